//! `spikearm-sim`: the rapier3d arm world. Knows nothing of the bus.
