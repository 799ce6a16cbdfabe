//! Nothing but tests (`tests/one_row.rs`): with the words crate's `example-field` feature the
//! sampling table has one more row, `example`, and every reader of the table must take it up
//! with no edit of its own. The engine crates' exhaustive `match`es must name it, which is why
//! `llamadeck-engine` has the feature too and `llamadeck-mistral` is not built here.
