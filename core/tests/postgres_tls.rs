//! PostgreSQL over TLS, against the real server `tests/pg/with-postgres.sh` starts with
//! `ssl=on` and a certificate for `localhost` only, signed by a CA the script generates:
//! `require` connects encrypted (seen by the server in `pg_stat_ssl`), `verify-full` connects
//! with the right CA and host name and refuses a wrong CA or a wrong host, `disable` stays
//! plaintext, and a server without TLS refuses `require` rather than falling back. One test in
//! its own binary: it turns the server's TLS off and on again, which no other test may see.

mod common;

use wflo_core::{Engine, ErrorCode};

struct Server {
    url: String,
    ca: String,
    wrong_ca: String,
    admin: sqlx::PgPool,
    runtime: tokio::runtime::Runtime,
}

impl Server {
    fn get() -> Option<Server> {
        let url = common::postgres_url()?;
        let env =
            |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("with-postgres.sh exports {k}"));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let admin = runtime
            .block_on(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect(&with(&url, "127.0.0.1", "sslmode=disable")),
            )
            .unwrap();
        Some(Server {
            ca: env("WFLO_TEST_POSTGRES_CA"),
            wrong_ca: env("WFLO_TEST_POSTGRES_WRONG_CA"),
            url,
            admin,
            runtime,
        })
    }

    /// Opens an engine on `url` (tagged with `name`) and returns how many of its connections
    /// the server sees, and how many of those are encrypted.
    fn connections(&self, name: &str, url: &str) -> (i64, i64) {
        let engine =
            Engine::open(Some(&with(url, "", &format!("application_name={name}")))).unwrap();
        let row: (i64, i64) = self
            .runtime
            .block_on(
                sqlx::query_as(
                    "SELECT count(*), count(*) FILTER (WHERE s.ssl) FROM pg_stat_activity a \
                     JOIN pg_stat_ssl s USING (pid) WHERE a.application_name = $1",
                )
                .bind(name)
                .fetch_one(&self.admin),
            )
            .unwrap();
        engine.close().unwrap();
        row
    }

    fn set_ssl(&self, on: bool) {
        self.runtime.block_on(async {
            let set = if on {
                "ALTER SYSTEM SET ssl = on"
            } else {
                "ALTER SYSTEM SET ssl = off"
            };
            sqlx::query(set).execute(&self.admin).await.unwrap();
            sqlx::query("SELECT pg_reload_conf()")
                .execute(&self.admin)
                .await
                .unwrap();
        });
        std::thread::sleep(std::time::Duration::from_millis(500)); // the postmaster reloads
    }
}

/// `url` with `host` in place of 127.0.0.1 (when not empty) and `query` added.
fn with(url: &str, host: &str, query: &str) -> String {
    let url = if host.is_empty() {
        url.to_owned()
    } else {
        url.replacen("@127.0.0.1:", &format!("@{host}:"), 1)
    };
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{query}")
}

fn refused(url: &str) -> String {
    match Engine::open(Some(url)) {
        Ok(_) => panic!("{url} connected"),
        Err(e) => {
            assert_eq!(e.code(), ErrorCode::Storage, "{e}");
            e.to_string()
        }
    }
}

#[test]
fn tls_modes_connect_encrypted_verify_and_never_fall_back() {
    let Some(s) = Server::get() else { return };
    let url = &s.url;

    // require: encrypted, every connection of the engine's pool.
    let (n, tls) = s.connections("wflo-require", &with(url, "", "sslmode=require"));
    assert!(
        n >= 1 && tls == n,
        "require: {tls} of {n} connections encrypted"
    );
    // prefer (the default, as in libpq): encrypted when the server offers it — so the store
    // suite, which runs on the default URL, runs over TLS.
    let (n, tls) = s.connections("wflo-prefer", url);
    assert!(
        n >= 1 && tls == n,
        "prefer: {tls} of {n} connections encrypted"
    );
    // disable: plaintext.
    let (n, tls) = s.connections("wflo-disable", &with(url, "", "sslmode=disable"));
    assert!(
        n >= 1 && tls == 0,
        "disable: {tls} of {n} connections encrypted"
    );
    // The old SDK's URL form, with asyncpg's spelling of the mode.
    let asyncpg = with(
        &url.replacen("postgres://", "postgresql+asyncpg://", 1),
        "",
        "ssl=require",
    );
    let (n, tls) = s.connections("wflo-asyncpg", &asyncpg);
    assert!(
        n >= 1 && tls == n,
        "asyncpg ssl=require: {tls} of {n} connections encrypted"
    );

    // verify-full: the right CA and the certificate's host name.
    let full =
        |host: &str, ca: &str| with(url, host, &format!("sslmode=verify-full&sslrootcert={ca}"));
    let (n, tls) = s.connections("wflo-verify-full", &full("localhost", &s.ca));
    assert!(
        n >= 1 && tls == n,
        "verify-full: {tls} of {n} connections encrypted"
    );
    let (n, tls) = s.connections(
        "wflo-verify-ca",
        &with(
            url,
            "127.0.0.1",
            &format!("sslmode=verify-ca&sslrootcert={}", s.ca),
        ),
    );
    assert!(n >= 1 && tls == n, "verify-ca by address: {tls} of {n}");
    // A CA that did not sign the server's certificate, or a host name it does not carry.
    let wrong_ca = refused(&full("localhost", &s.wrong_ca));
    assert!(
        wrong_ca.contains("certificate") || wrong_ca.contains("TLS"),
        "{wrong_ca}"
    );
    let wrong_host = refused(&full("127.0.0.1", &s.ca));
    assert!(
        wrong_host.contains("certificate") || wrong_host.contains("name"),
        "{wrong_host}"
    );
    // A bad mode is an error, not a silent default.
    let bad = match Engine::open(Some(&with(url, "", "sslmode=sometimes"))) {
        Ok(_) => panic!("sslmode=sometimes connected"),
        Err(e) => e,
    };
    assert!(
        matches!(bad.code(), ErrorCode::Storage | ErrorCode::InvalidArgument),
        "{bad}"
    );

    // A server without TLS: require refuses (never plaintext); prefer falls back, as in libpq.
    s.set_ssl(false);
    let plain = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let why = refused(&with(url, "", "sslmode=require"));
        let (n, tls) = s.connections("wflo-prefer-plain", url);
        (why, n, tls)
    }));
    s.set_ssl(true);
    let (why, n, tls) = plain.unwrap();
    assert!(
        why.to_lowercase().contains("ssl") || why.contains("TLS"),
        "{why}"
    );
    assert!(
        n >= 1 && tls == 0,
        "prefer without server TLS: {tls} of {n}"
    );
}
