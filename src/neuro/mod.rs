//! The emulated neuromorphic core: describe -> build -> discretize -> execute.
