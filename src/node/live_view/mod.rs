//! The live view: one arm served to Foxglove (the app, or Lichtblick) over the Foxglove WebSocket protocol,
//! while it runs. A bus client like any tool: it reads the arm's keys through its own zenoh session and, when
//! allowed, publishes the target, payload and e-stop that clients send — checked like any bus body, under the
//! access-control identity of its own zenoh configuration. README, "Watch the arm live", says how to open it.

mod channels;
mod client_input;
mod frames;
mod node;
mod settings;

pub use channels::VIZ;
pub use client_input::{ClientCommand, ClientCounts};
pub use frames::{ArmFrames, FramesError, LinkTransform};
pub use node::{LiveView, LiveViewReport};
pub use settings::LiveViewSettings;
