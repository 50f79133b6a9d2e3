//! Maps JSON pointers into a YAML document to line and column.
