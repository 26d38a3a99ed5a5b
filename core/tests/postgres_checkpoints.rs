//! PostgreSQL's checkpoint save: after a checkpoint a store saved, its next save of that
//! execution names it as the parent and checks in the INSERT that it still is the latest (see
//! `insert_checkpoint`); anything else takes the full statement. Two engines taking turns
//! (saves, rollbacks, pruning in between) are in the store suite
//! (`two_engines_saving_in_turns_keep_sequences_and_parents`). Here: without the foreign key
//! (migration 0014), a save for an execution that does not exist is still refused, with
//! nothing stored; and the saves read over their indexes whatever plan PostgreSQL picks.

mod common;

use common::{new_database, psql};

use wflo_core::store::state_codec::{Compression, prepare};
use wflo_core::store::{NewCheckpoint, PostgresStore, Store};
use wflo_core::{CheckpointInfo, Engine, ErrorCode};

fn save(store: &PostgresStore, exec: &str, name: &str) -> wflo_core::Result<CheckpointInfo> {
    let state = prepare(r#"{"n":1}"#, Compression::WhenSmaller).unwrap();
    store.save_checkpoint(
        NewCheckpoint {
            execution_id: exec,
            name,
            state: &state,
            spent_nanos: 0,
            created_at_ms: 1,
        },
        None,
    )
}

#[test]
fn a_save_for_an_execution_that_does_not_exist_is_refused_and_stores_nothing() {
    let Some(base) = common::postgres_url() else {
        return;
    };
    let url = new_database(&base, "wflo_missing_execution");
    let engine = Engine::open(Some(&url)).unwrap();
    let exec = engine.start_execution(Default::default()).unwrap();
    let store = PostgresStore::connect(&url).unwrap();
    let missing = "exec-0000000000ff";
    for _ in 0..2 {
        let e = save(&store, missing, "c1").unwrap_err();
        assert_eq!(e.code(), ErrorCode::NotFound, "{e}");
        assert!(e.to_string().contains(missing), "{e}");
    }
    // Also right after a save of another execution (whose parent this store remembers).
    save(&store, exec.id(), "c1").unwrap();
    assert_eq!(
        save(&store, missing, "c1").unwrap_err().code(),
        ErrorCode::NotFound
    );
    assert_eq!(
        psql(
            &url,
            &format!("SELECT count(*) FROM checkpoints WHERE execution_id = '{missing}'")
        )
        .trim(),
        "0"
    );
    // The foreign key is gone (its row lock per save was the cost); the plpgsql save kept for
    // processes of an earlier version refuses a missing execution itself, with the key's code.
    assert_eq!(
        psql(
            &url,
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'checkpoints'::regclass AND contype = 'f'"
        )
        .trim(),
        "0"
    );
    let refused = psql(
        &url,
        &format!(
            "DO $$ BEGIN \
               PERFORM * FROM wflo_save_checkpoint('{missing}', 'c', 0, 0, '\\x00', 'json', 1, NULL); \
             EXCEPTION WHEN foreign_key_violation THEN NULL; \
             END $$; \
             SELECT count(*) FROM checkpoints WHERE execution_id = '{missing}'"
        ),
    );
    assert_eq!(refused.trim(), "0");
    store.close().unwrap();
    engine.close().unwrap();
}

/// The plans the saves run on, generic ones included (a plan cached early serves a statement
/// for the connection's life): the parent check of a save after a known checkpoint reads one
/// row by an index, and the full save reads the execution's latest checkpoint one step back
/// over the unique (execution_id, sequence).
#[test]
fn the_saves_read_over_their_indexes_whatever_the_plan() {
    let Some(base) = common::postgres_url() else {
        return;
    };
    let url = new_database(&base, "wflo_save_plans");
    let engine = Engine::open(Some(&url)).unwrap();
    let exec = engine.start_execution(Default::default()).unwrap();
    let plan = |sql: &str, args: &str| {
        psql(
            &url,
            &format!(
                "SET plan_cache_mode = force_generic_plan; PREPARE q AS {sql}; EXPLAIN EXECUTE q({args})"
            ),
        )
    };
    let (id, exec_arg) = (exec.id().to_owned(), format!("'{}'", exec.id()));
    let check = "SELECT 1 FROM checkpoints p WHERE p.id = $3::int8 AND p.execution_id = $1::text \
                 AND p.sequence = $2::int8 AND NOT p.superseded";
    let latest = "SELECT id, sequence, superseded FROM checkpoints WHERE execution_id = $1::text \
                  ORDER BY sequence DESC LIMIT 1";
    let assert_plans = |when: &str| {
        // Any of the three indexes finds the one row: the primary key, or the unique or the
        // live (execution_id, sequence).
        let p = plan(check, &format!("'{id}', 1, 1"));
        assert!(
            p.contains("Index Scan using checkpoints_") && !p.contains("Seq Scan"),
            "{when}: {p}"
        );
        let p = plan(latest, &exec_arg);
        assert!(
            p.contains("Index Scan Backward using checkpoints_execution_id_sequence_key"),
            "{when}: {p}"
        );
    };
    for i in 0..300 {
        exec.checkpoint(&format!("c{i}"), "{}").unwrap();
    }
    assert_plans("300 saves");
    psql(&url, "ANALYZE");
    assert_plans("analyzed");
    engine.close().unwrap();
}
