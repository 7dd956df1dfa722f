//! Arm model, controllers and the adaptive term (pure maths, no I/O).
