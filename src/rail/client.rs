//! The 12306 HTTP client (session cookies, endpoint discovery, pacing, error classes).
