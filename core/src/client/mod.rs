//! The client the phone apps embed (issue: client core).
