//! What every sshmatrix crate shares and nothing else provides: the file-safety checks for the
//! work directory's private files, and text helpers for what crosses a shell or a terminal.
//! It depends on no other sshmatrix crate.

#![warn(missing_docs)]

pub mod bounded;
pub mod fsx;
pub mod prompt;
pub mod text;
