//! The `wflo` command: a mock LLM server for tests and demos, inspection of the store,
//! prices and token counts, HTML reports, and the demo.

mod approvals;
mod breakers;
mod checkpoint_ref;
mod demo;
mod exit;
mod inspect;
mod mock;
mod prices;
mod provider;
mod report;
mod scopes;
mod serve;
mod table;
mod terminal;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::exit::CliError;

#[derive(Parser)]
#[command(
    name = "wflo",
    version,
    about = "Meter, budget and checkpoint LLM calls",
    long_about = "Meter, budget and checkpoint LLM calls.\n\n\
        Inspect what the engine stored (executions, calls, checkpoints, rollbacks), look up \
        prices and count tokens, write an HTML report, run a mock LLM server for tests, or \
        run the demo. The store commands read --db, else WFLO_DATABASE_URL, else \
        DATABASE_URL, else the default SQLite file.",
    after_help = exit::HELP,
    propagate_version = true
)]
struct Cli {
    /// A price file loaded over the built-in table before the command runs: wflo's schema or
    /// LiteLLM's model_prices_and_context_window.json (default: WFLO_PRICES).
    #[arg(long, global = true, value_name = "FILE")]
    prices: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
pub struct Output {
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(clap::Args, Clone)]
pub struct Db {
    /// The store (a SQLite path, sqlite://…, postgres://…, memory://); default:
    /// WFLO_DATABASE_URL, DATABASE_URL, then the default SQLite file.
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve OpenAI, Anthropic and Gemini wire formats on 127.0.0.1 with real usage.
    ///
    /// Prints the listening URL and the base URLs to give OpenAI, Anthropic and Gemini (Google
    /// Gen AI SDK) clients, then serves until stopped. Directives in an x-mock header or in
    /// the base URL (http://127.0.0.1:PORT/mock/reply=50,cached=100/v1) ask for behaviours;
    /// GET /__mock/stats counts the requests served.
    #[command(after_help = "Examples:\n  \
        wflo mock-llm --port 8765\n  \
        wflo mock-llm --port 0          # any free port; the first line says which")]
    MockLlm {
        /// The port to listen on (0: any free port).
        #[arg(long, default_value_t = 8765)]
        port: u16,
        /// The IP address to bind (loopback unless --allow-remote).
        #[arg(long, default_value = "127.0.0.1", value_name = "IP")]
        host: String,
        /// Allow a non-loopback address (the mock answers anyone who reaches it).
        #[arg(long)]
        allow_remote: bool,
    },
    /// List recent executions.
    #[command(after_help = "Examples:\n  \
        wflo executions --limit 5\n  \
        wflo executions --db postgres://wflo@db.internal/wflo --json")]
    Executions {
        /// How many executions to list, the most recent first.
        #[arg(long, default_value_t = 20, value_name = "N")]
        limit: usize,
        #[command(flatten)]
        db: Db,
        #[command(flatten)]
        out: Output,
    },
    /// List approval gates: pending ones (every workflow waiting for a person), or --all.
    #[command(after_help = "Examples:\n  \
        wflo approvals\n  \
        wflo approvals --all --json")]
    Approvals {
        /// Decided and expired ones too.
        #[arg(long)]
        all: bool,
        /// How many to list, the most recent first.
        #[arg(long, default_value_t = 50, value_name = "N")]
        limit: usize,
        #[command(flatten)]
        db: Db,
        #[command(flatten)]
        out: Output,
    },
    /// List circuit breakers: every shared one's state (as the fleet on this store sees it)
    /// and the latest changes of state of every breaker, shared or one process's.
    #[command(after_help = "Examples:\n  \
        wflo breakers\n  \
        wflo breakers --name provider:openai --json")]
    Breakers {
        /// Only this breaker.
        #[arg(long)]
        name: Option<String>,
        /// How many changes of state to list, the most recent.
        #[arg(long, default_value_t = 50, value_name = "N")]
        limit: usize,
        #[command(flatten)]
        db: Db,
        #[command(flatten)]
        out: Output,
    },
    /// List shared budget scopes (limit, spent, reserved, allowances out, holders), or credit
    /// spend back to one (`wflo scopes credit`) and list its credits (`wflo scopes credits`).
    Scopes(scopes::ScopesArgs),
    /// Approve a pending approval: the workflow waiting at its gate goes on (its spend still
    /// goes through the budget).
    #[command(after_help = "Examples:\n  \
        wflo approve appr-0123456789ab --note 'checked the diff'")]
    Approve {
        /// The approval's id (see `wflo approvals`).
        id: String,
        /// Why (recorded with the decision).
        #[arg(long)]
        note: Option<String>,
        /// Who decides (default: USER@host).
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
        #[command(flatten)]
        db: Db,
        #[command(flatten)]
        out: Output,
    },
    /// Deny a pending approval: the workflow waiting at its gate fails with APPROVAL_DENIED.
    #[command(after_help = "Examples:\n  \
        wflo deny appr-0123456789ab --note 'not on a Friday'")]
    Deny {
        /// The approval's id (see `wflo approvals`).
        id: String,
        /// Why (recorded with the decision, and in the workflow's error).
        #[arg(long)]
        note: Option<String>,
        /// Who decides (default: USER@host).
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
        #[command(flatten)]
        db: Db,
        #[command(flatten)]
        out: Output,
    },
    /// Show one execution: calls, cost by model and step, checkpoints, rollbacks, budget.
    ///
    /// Checkpoints are shown by their sequence within the execution (#1, #2, …); --json also
    /// gives each one's internal id.
    #[command(after_help = "Examples:\n  \
        wflo show exec-0123456789ab\n  \
        wflo show exec-0123456789ab --json | jq .breakdown.total_nanos")]
    Show {
        /// The execution id (exec- and 12 hex digits, as `wflo executions` lists them).
        #[arg(value_name = "EXEC_ID")]
        execution_id: String,
        #[command(flatten)]
        db: Db,
        #[command(flatten)]
        out: Output,
    },
    /// List an execution's checkpoints, or show one with its state.
    ///
    /// A checkpoint is named by its sequence within the execution (#3 or 3), by its name (the
    /// latest live checkpoint of that name, else the latest), or by its internal id (as --json
    /// gives it). A name wins over a bare number; #N is always the sequence. The execution and
    /// the checkpoint may also be given as one argument: exec-…#3.
    #[command(after_help = "Examples:\n  \
        wflo checkpoints exec-0123456789ab\n  \
        wflo checkpoints exec-0123456789ab '#3'\n  \
        wflo checkpoints exec-0123456789ab after-analyse --json\n  \
        wflo checkpoints 'exec-0123456789ab#3'")]
    Checkpoints {
        /// The execution id, or exec-…#N for one of its checkpoints.
        #[arg(value_name = "EXEC_ID")]
        execution_id: String,
        /// One checkpoint to show with its state: #N or N (its sequence), its name, or its
        /// internal id.
        #[arg(value_name = "CHECKPOINT")]
        checkpoint: Option<String>,
        #[command(flatten)]
        db: Db,
        #[command(flatten)]
        out: Output,
    },
    /// Show how a model name resolves and every price it has.
    #[command(after_help = "Examples:\n  \
        wflo price gpt-4o\n  \
        wflo price openai/gpt-4o-2024-08-06 --json")]
    Price {
        /// The model name as a program would send it (provider prefixes and dated versions
        /// resolve).
        model: String,
        #[command(flatten)]
        out: Output,
    },
    /// List the models in the price table.
    #[command(after_help = "Examples:\n  \
        wflo models --provider anthropic\n  \
        wflo models --json | jq length")]
    Models {
        /// Only this provider's models (openai, anthropic, gemini, …).
        #[arg(long)]
        provider: Option<String>,
        #[command(flatten)]
        out: Output,
    },
    /// Price a usage (token counts are disjoint: input excludes cache reads and writes).
    #[command(after_help = "Examples:\n  \
        wflo cost --model gpt-4o --input-tokens 800 --cache-read-tokens 200 --output-tokens 300\n  \
        wflo cost --model claude-sonnet-4-6 --input-tokens 1000 --cache-write-tokens 5000 --json")]
    Cost {
        /// The model to price the usage on.
        #[arg(long)]
        model: String,
        /// Prompt tokens billed at the plain input price (cache reads and writes not included).
        #[arg(long, default_value_t = 0, value_name = "N")]
        input_tokens: u64,
        /// Output tokens (reasoning tokens not included).
        #[arg(long, default_value_t = 0, value_name = "N")]
        output_tokens: u64,
        /// Prompt tokens read from the provider's cache.
        #[arg(long, default_value_t = 0, value_name = "N")]
        cache_read_tokens: u64,
        /// Prompt tokens written to a 5-minute cache.
        #[arg(long, default_value_t = 0, value_name = "N")]
        cache_write_tokens: u64,
        /// Prompt tokens written to a 1-hour cache (Anthropic).
        #[arg(long, default_value_t = 0, value_name = "N")]
        cache_write_1h_tokens: u64,
        /// Reasoning (thinking) tokens, at the reasoning price, or the output price where the
        /// model has none.
        #[arg(long, default_value_t = 0, value_name = "N")]
        reasoning_tokens: u64,
        #[command(flatten)]
        out: Output,
    },
    /// Count the tokens of a file (or standard input) as a model would.
    #[command(after_help = "Examples:\n  \
        wflo tokens --model gpt-4o prompt.txt\n  \
        echo '[{\"role\":\"user\",\"content\":\"hi\"}]' | wflo tokens --model gpt-4o --chat --json")]
    Tokens {
        /// The model whose tokenizer counts (providers without an offline tokenizer are
        /// estimated, and say so).
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
    #[command(after_help = "Examples:\n  \
        wflo report exec-0123456789ab --html report.html\n  \
        wflo report exec-0123456789ab --html report.html --json   # {\"execution_id\":…,\"path\":…}")]
    Report {
        /// The execution id (exec- and 12 hex digits).
        #[arg(value_name = "EXEC_ID")]
        execution_id: String,
        /// The HTML file to write (replaced if it exists).
        #[arg(long, value_name = "FILE")]
        html: String,
        #[command(flatten)]
        db: Db,
        #[command(flatten)]
        out: Output,
    },
    /// Run a small agent workflow through the engine against the built-in mock LLM server.
    ///
    /// Records go to the store (--db; by default the default SQLite file). Tracked calls on two models, a checkpoint after each step, a step refused before its
    /// request is sent, a rollback, the breakdown and an HTML report. With --json the steps,
    /// the breakdown and the report's path are printed as one JSON document at the end.
    #[command(after_help = "Examples:\n  \
        wflo demo\n  \
        wflo demo --db ./demo.db              # the report lands in ./\n  \
        wflo demo --db memory:// --report /tmp/demo.html --json")]
    Demo {
        #[command(flatten)]
        db: Db,
        /// Where to write the HTML report (default: wflo-report-EXEC_ID.html next to the
        /// SQLite database file; in the current directory for memory:// and PostgreSQL).
        #[arg(long, value_name = "FILE")]
        report: Option<String>,
        /// Call the real OpenAI API (needs OPENAI_API_KEY) instead of the mock.
        #[arg(long)]
        live: bool,
        #[command(flatten)]
        out: Output,
    },
    /// Serve a local web app over the store: live spend, reports, scopes, prices, metrics.
    ///
    /// Pages: / (executions, spend updated live with Server-Sent Events), /executions/ID (the
    /// report, live while it runs), /scopes (the shared scopes, or those named by --scope: limit, spent,
    /// reserved, refusals, burn-down), /prices?model=NAME; JSON under /api/ (executions,
    /// executions/ID, scopes, prices/MODEL); Prometheus text at /metrics. Listens on
    /// 127.0.0.1 only, unless --allow-remote and --token are both given. With --webhook,
    /// budget alerts (--thresholds of each execution's budget and each shared scope's limit)
    /// crossed while serving are POSTed as JSON, retried with backoff; thresholds already
    /// crossed when serve starts are not sent.
    #[command(after_help = "Examples:\n  \
        wflo serve                                   # http://127.0.0.1:8766\n  \
        wflo serve --db ./agents.db --port 0 --scope tenant:acme\n  \
        wflo serve --db postgres://wflo@db/wflo --webhook https://hooks.slack.com/services/… --webhook-format slack\n  \
        WFLO_SERVE_TOKEN=… wflo serve --bind 0.0.0.0 --allow-remote")]
    Serve(serve::ServeArgs),
    /// Work with price files: see what one would change before it applies.
    ///
    /// A price file updates prices without a new release: give it to any command with
    /// --prices FILE, or to every engine of a deployment (every language) with WFLO_PRICES.
    #[command(
        subcommand,
        after_help = "Examples:\n  \
        wflo prices diff ./model_prices_and_context_window.json\n  \
        wflo --prices ./model_prices_and_context_window.json price some-new-model"
    )]
    Prices(PricesCommand),
    /// Print a shell completion script for wflo's commands and flags.
    #[command(after_help = "Examples:\n  \
        source <(wflo completions bash)                 # this shell only\n  \
        wflo completions bash > ~/.local/share/bash-completion/completions/wflo\n  \
        wflo completions zsh > ~/.zfunc/_wflo           # with ~/.zfunc in fpath\n  \
        wflo completions fish > ~/.config/fish/completions/wflo.fish")]
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand)]
enum PricesCommand {
    /// Show what a price file would change over the table, without applying it.
    ///
    /// The file is wflo's schema ({"models": [{"name": …, "input": …}]}, pico-USD per token)
    /// or LiteLLM's model_prices_and_context_window.json as published (USD per token). Lists
    /// the models it adds, each price it changes (before → after), and the entries that are
    /// not per-token prices. A file with an entry wflo cannot read is refused whole, with the
    /// line and the reason (exit 1). Give it to --prices or WFLO_PRICES to apply it.
    #[command(after_help = "Examples:\n  \
        wflo prices diff ./model_prices_and_context_window.json\n  \
        wflo prices diff ./our-prices.json --json | jq '.added'\n  \
        WFLO_PRICES=./our-prices.json wflo price in-house-llm")]
    Diff {
        /// The price file to compare with the table.
        #[arg(value_name = "FILE")]
        file: String,
        #[command(flatten)]
        out: Output,
    },
}

fn main() -> ExitCode {
    // Like other Unix tools, end quietly when the reader of our output goes away
    // (`wflo models | head`) instead of failing on the broken pipe.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // `--help` and `--version` go to stdout and succeed; a usage error is clap's
            // message on stderr and `exit::USAGE`.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    if let Some(path) = &cli.prices {
        // Every engine this process opens loads it, exactly as WFLO_PRICES would.
        // SAFETY: no other thread has started yet.
        unsafe { std::env::set_var("WFLO_PRICES", path) };
    }
    // WFLO_LOG=info (or warn, debug, …): the engine's events, one line each on stderr.
    match wflo_core::events::level_from_env() {
        Ok(None) => {}
        Ok(Some(level)) => {
            let _ = wflo_core::events::log_to(Some(level), |_, line| {
                // Core escaped the line's values (controls, bidi overrides) already.
                eprintln!("wflo: {line}");
            });
        }
        Err(e) => {
            eprintln!("wflo: error: {e}");
            return ExitCode::from(exit::USAGE);
        }
    }
    match run(cli.command) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) => {
            eprintln!("wflo: error: {}", terminal::escape(&e.message));
            ExitCode::from(e.exit)
        }
    }
}

fn run(command: Command) -> Result<(), CliError> {
    match command {
        Command::MockLlm {
            port,
            host,
            allow_remote,
        } => mock_llm(&host, port, allow_remote),
        Command::Executions { limit, db, out } => inspect::executions(&db, limit, &out),
        Command::Approvals {
            all,
            limit,
            db,
            out,
        } => approvals::list(&db, all, limit, &out),
        Command::Breakers {
            name,
            limit,
            db,
            out,
        } => breakers::list(&db, name.as_deref(), limit, &out),
        Command::Scopes(args) => scopes::run(args),
        Command::Approve {
            id,
            note,
            by,
            db,
            out,
        } => approvals::decide(&db, &id, true, by.as_deref(), note.as_deref(), &out),
        Command::Deny {
            id,
            note,
            by,
            db,
            out,
        } => approvals::decide(&db, &id, false, by.as_deref(), note.as_deref(), &out),
        Command::Show {
            execution_id,
            db,
            out,
        } => inspect::show(&db, &execution_id, &out),
        Command::Checkpoints {
            execution_id,
            checkpoint,
            db,
            out,
        } => inspect::checkpoints(&db, &execution_id, checkpoint.as_deref(), &out),
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
            out,
        } => {
            let path = report::write(&db, &execution_id, &html)?;
            if out.json {
                inspect::print_json(&serde_json::json!({
                    "execution_id": execution_id, "path": path
                }))
            } else {
                println!("report written to {}", terminal::escape(&path));
                Ok(())
            }
        }
        Command::Demo {
            db,
            report,
            live,
            out,
        } => demo::run(&db, report.as_deref(), live, &out),
        Command::Serve(args) => serve::run(args),
        Command::Prices(PricesCommand::Diff { file, out }) => prices::diff(&file, &out),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "wflo", &mut script);
            use std::io::Write;
            std::io::stdout()
                .write_all(&script)
                .map_err(|e| CliError::other(format!("cannot write the script: {e}")))
        }
    }
}

fn mock_llm(host: &str, port: u16, allow_remote: bool) -> Result<(), CliError> {
    let server =
        mock::MockServer::start(host, port, allow_remote).map_err(|e| format!("mock-llm: {e}"))?;
    // One write: a reader that takes the first line and goes away must not meet a second
    // write (a closed pipe would end the server).
    let banner = format!(
        "wflo mock-llm listening on http://{}\n  OpenAI base URL:    {}\n  Anthropic base URL: {}\n  Gemini base URL:    {}\n",
        server.addr(),
        server.openai_base_url(),
        server.anthropic_base_url(),
        server.gemini_base_url()
    );
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(banner.as_bytes()).and_then(|()| out.flush());
    drop(out);
    loop {
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command and every flag or argument says what it is, and every command shows an
    /// example of itself.
    #[test]
    fn every_command_and_flag_has_help_and_an_example() {
        let cli = Cli::command();
        cli.clone().debug_assert();
        let mut commands = 0;
        // Commands with subcommands of their own (`prices diff`) are checked level by level.
        let nested: Vec<(String, clap::Command)> = cli
            .get_subcommands()
            .flat_map(|g| {
                g.get_subcommands()
                    .map(|s| (format!("{} {}", g.get_name(), s.get_name()), s.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        let top: Vec<(String, clap::Command)> = cli
            .get_subcommands()
            .map(|s| (s.get_name().to_owned(), s.clone()))
            .collect();
        for (name, sub) in top.iter().chain(&nested) {
            let name = name.as_str();
            commands += 1;
            assert!(sub.get_about().is_some(), "{name} has no help");
            let after = sub
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            assert!(
                after.contains(&format!("Examples:\n  wflo {name}"))
                    || after.contains(&format!("wflo {name} ")),
                "{name} has no example"
            );
            for arg in sub.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                assert!(arg.get_help().is_some(), "{name} {id} has no help");
            }
        }
        assert_eq!(
            commands, 22,
            "18 commands, `prices diff`, `scopes define`, `scopes credit` and `scopes credits`"
        );
        assert!(
            cli.get_after_help()
                .is_some_and(|h| h.to_string().contains("Exit codes"))
        );
    }
}
