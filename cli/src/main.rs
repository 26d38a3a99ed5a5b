//! The `wflo` command: a mock LLM server for tests and demos, inspection of the store,
//! prices and token counts, HTML reports, and the demo.

mod demo;
mod inspect;
mod mock;
mod provider;
mod report;
mod table;
mod terminal;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "wflo",
    version,
    about = "Meter, budget and checkpoint LLM calls",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
pub struct Output {
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(clap::Args, Clone)]
pub struct Db {
    /// The store (a SQLite path, sqlite://…, postgres://…); default: WFLO_DATABASE_URL,
    /// DATABASE_URL, then the default SQLite file.
    #[arg(long)]
    pub db: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve OpenAI and Anthropic wire formats on 127.0.0.1 with real usage.
    MockLlm {
        #[arg(long, default_value_t = 8765)]
        port: u16,
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Allow a non-loopback address (the mock answers anyone who reaches it).
        #[arg(long)]
        allow_remote: bool,
    },
    /// List recent executions.
    Executions {
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[command(flatten)]
        db: Db,
        #[command(flatten)]
        out: Output,
    },
    /// Show one execution: calls, cost by model and step, checkpoints, budget.
    Show {
        execution_id: String,
        #[command(flatten)]
        db: Db,
        #[command(flatten)]
        out: Output,
    },
    /// List an execution's checkpoints.
    Checkpoints {
        execution_id: String,
        #[command(flatten)]
        db: Db,
        #[command(flatten)]
        out: Output,
    },
    /// Show how a model name resolves and every price it has.
    Price {
        model: String,
        #[command(flatten)]
        out: Output,
    },
    /// List the models in the price table.
    Models {
        #[arg(long)]
        provider: Option<String>,
        #[command(flatten)]
        out: Output,
    },
    /// Price a usage (token counts are disjoint: input excludes cache reads and writes).
    Cost {
        #[arg(long)]
        model: String,
        #[arg(long, default_value_t = 0)]
        input_tokens: u64,
        #[arg(long, default_value_t = 0)]
        output_tokens: u64,
        #[arg(long, default_value_t = 0)]
        cache_read_tokens: u64,
        /// Tokens written to a 5-minute cache.
        #[arg(long, default_value_t = 0)]
        cache_write_tokens: u64,
        #[arg(long, default_value_t = 0)]
        cache_write_1h_tokens: u64,
        #[arg(long, default_value_t = 0)]
        reasoning_tokens: u64,
        #[command(flatten)]
        out: Output,
    },
    /// Count the tokens of a file (or standard input) as a model would.
    Tokens {
        #[arg(long)]
        model: String,
        /// The input is a chat request's messages (a JSON array): count with the per-message
        /// overhead.
        #[arg(long)]
        chat: bool,
        /// A file, or `-` (the default) for standard input.
        file: Option<String>,
        #[command(flatten)]
        out: Output,
    },
    /// Write one self-contained HTML page about an execution.
    Report {
        execution_id: String,
        #[arg(long)]
        html: String,
        #[command(flatten)]
        db: Db,
    },
    /// Run a small agent workflow against the built-in mock LLM server, on the SQLite store.
    Demo {
        #[command(flatten)]
        db: Db,
        /// Where to write the HTML report (default: next to the database).
        #[arg(long)]
        report: Option<String>,
        /// Call the real OpenAI API (needs OPENAI_API_KEY) instead of the mock.
        #[arg(long)]
        live: bool,
    },
}

fn main() -> ExitCode {
    // Like other Unix tools, end quietly when the reader of our output goes away
    // (`wflo models | head`) instead of failing on the broken pipe.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::MockLlm {
            port,
            host,
            allow_remote,
        } => mock_llm(&host, port, allow_remote),
        Command::Executions { limit, db, out } => inspect::executions(&db, limit, &out),
        Command::Show {
            execution_id,
            db,
            out,
        } => inspect::show(&db, &execution_id, &out),
        Command::Checkpoints {
            execution_id,
            db,
            out,
        } => inspect::checkpoints(&db, &execution_id, &out),
        Command::Price { model, out } => inspect::price(&model, &out),
        Command::Models { provider, out } => inspect::models(provider.as_deref(), &out),
        Command::Cost {
            model,
            input_tokens,
            output_tokens,
            cache_read_tokens,
            cache_write_tokens,
            cache_write_1h_tokens,
            reasoning_tokens,
            out,
        } => {
            let usage = wflo_core::Usage {
                input: input_tokens,
                output: output_tokens,
                cache_read: cache_read_tokens,
                cache_write_5m: cache_write_tokens,
                cache_write_1h: cache_write_1h_tokens,
                reasoning: reasoning_tokens,
            };
            inspect::cost(&model, &usage, &out)
        }
        Command::Tokens {
            model,
            chat,
            file,
            out,
        } => inspect::tokens(&model, chat, file.as_deref(), &out),
        Command::Report {
            execution_id,
            html,
            db,
        } => report::write(&db, &execution_id, &html).map(|path| {
            println!("report written to {path}");
        }),
        Command::Demo { db, report, live } => demo::run(&db, report.as_deref(), live),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("wflo: error: {}", terminal::escape(&message));
            ExitCode::FAILURE
        }
    }
}

fn mock_llm(host: &str, port: u16, allow_remote: bool) -> Result<(), String> {
    let server =
        mock::MockServer::start(host, port, allow_remote).map_err(|e| format!("mock-llm: {e}"))?;
    // One write: a reader that takes the first line and goes away must not meet a second
    // write (a closed pipe would end the server).
    let banner = format!(
        "wflo mock-llm listening on http://{}\n  OpenAI base URL:    {}\n  Anthropic base URL: {}\n",
        server.addr(),
        server.openai_base_url(),
        server.anthropic_base_url()
    );
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(banner.as_bytes()).and_then(|()| out.flush());
    drop(out);
    loop {
        std::thread::park();
    }
}
