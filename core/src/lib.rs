//! What every sshmatrix crate shares and nothing else provides: the vocabulary of results
//! ([`vocab`]: verdict, stage, failure code, holder, key id), the file-safety checks for the
//! work directory's private files, bounded reads of inputs, typing at a prompt, how a child process ended, and text
//! helpers for what crosses a shell or a terminal. It depends on no other sshmatrix crate.

#![warn(missing_docs)]

pub mod bounded;
pub mod fsx;
pub mod i18n;
pub mod process;
pub mod prompt;
pub mod text;
pub mod vocab;
