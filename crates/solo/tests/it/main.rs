//! End-to-end tests of the `solo` binary itself: admin bootstrap, then `solo serve`
//! answering with the token it printed.

mod cli;
mod cli_live;
mod cli_script;
mod cli_snooze;
mod cli_supersede;
mod cli_workspace;
mod cluster;
mod drill;
mod faults;
mod serve;
mod support;
mod traces;
