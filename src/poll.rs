//! One check of many watches: plan coalesced queries, run them, select what each watch wants.
