//! A recording fake runtime for tests of pure logic.
