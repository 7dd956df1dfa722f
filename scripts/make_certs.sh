#!/usr/bin/env sh
# Certificates for zenoh over TLS with mutual authentication (config/zenoh/router-tls.json5, tls-*.json5):
#   a private CA, a server certificate for the router (the listening hub) and one client certificate per
#   identity whose common name (CN) is its name in the router's access-control rules (sim, controller,
#   operator, viewer).
#
#   scripts/make_certs.sh [OUT_DIR] [IDENTITY ...]  defaults: certs  sim controller operator viewer
#   ROUTER_SAN="DNS:router.lab,IP:10.0.0.5" scripts/make_certs.sh   extra names the router is reached by
#   DAYS=90 scripts/make_certs.sh                    validity (default 365)
#
# Writes OUT_DIR/ca.pem (+ ca-key.pem: keep it offline), router.pem + router-key.pem, <identity>.pem +
# <identity>-key.pem.
# Keys are ECDSA P-256 in PKCS#8. Existing files are not overwritten (delete them to re-issue), so adding a
# node later re-uses the CA: scripts/make_certs.sh certs logger
set -eu

out=${1:-certs}
[ $# -gt 0 ] && shift
nodes=${*:-sim controller operator viewer}
days=${DAYS:-365}
san="DNS:localhost,IP:127.0.0.1${ROUTER_SAN:+,$ROUTER_SAN}"

command -v openssl >/dev/null || { echo "make_certs.sh: openssl not found" >&2; exit 1; }
mkdir -p "$out"
umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

if [ ! -f "$out/ca.pem" ]; then
    key "$out/ca-key.pem"
    openssl req -x509 -new -key "$out/ca-key.pem" -sha256 -days "$days" -subj "/CN=spikearm-ca" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -out "$out/ca.pem"
    echo "CA: $out/ca.pem"
fi

# issue NAME EXTENDED_KEY_USAGE [SUBJECT_ALT_NAMES]
issue() {
    [ -f "$out/$1.pem" ] && { echo "exists, kept: $out/$1.pem"; return; }
    key "$out/$1-key.pem"
    openssl req -new -key "$out/$1-key.pem" -subj "/CN=$1" -out "$tmp/$1.csr"
    {
        echo "basicConstraints=critical,CA:FALSE"
        echo "keyUsage=critical,digitalSignature"
        echo "extendedKeyUsage=$2"
        [ -n "${3:-}" ] && echo "subjectAltName=$3"
    } > "$tmp/$1.ext"
    openssl x509 -req -in "$tmp/$1.csr" -CA "$out/ca.pem" -CAkey "$out/ca-key.pem" -CAcreateserial \
        -CAserial "$tmp/ca.srl" -days "$days" -sha256 -extfile "$tmp/$1.ext" -out "$out/$1.pem" 2>/dev/null
    openssl verify -CAfile "$out/ca.pem" "$out/$1.pem" >/dev/null
    echo "$1: $out/$1.pem (CN=$1${3:+, $3})"
}

# The router listens (server certificate, named by the addresses clients dial) and may also dial other routers.
issue router "serverAuth,clientAuth" "$san"
for n in $nodes; do
    # Clients are identified by CN; the name also goes in the SAN because some verifiers ignore the CN.
    issue "$n" "clientAuth" "DNS:$n"
done
chmod 644 "$out"/*.pem
chmod 600 "$out"/*-key.pem
