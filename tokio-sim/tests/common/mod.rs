pub mod http;
pub mod kv;
