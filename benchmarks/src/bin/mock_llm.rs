//! A mock OpenAI-compatible endpoint for the generation throughput benchmark:
//! the scripted LLM of `toolgrad-generate`'s test support, with a fixed
//! latency per call. Prints its base URL, then serves until killed.
//!
//! Usage: mock_llm <latency-ms> [port]

use std::time::Duration;

use toolgrad_testkit::{serve, MockOptions};

#[tokio::main]
async fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let latency: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .ok_or("usage: mock_llm <latency-ms> [port]")?;
    let port: u16 = args
        .next()
        .map_or(Ok(0), |a| a.parse())
        .map_err(|_| "bad port")?;
    let options = MockOptions {
        latency: Duration::from_millis(latency),
        ..MockOptions::default()
    };
    let server = serve(options, port).await.map_err(|e| e.to_string())?;
    println!("{}", server.base_url());
    std::future::pending::<()>().await;
    Ok(())
}
