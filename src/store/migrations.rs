//! The schema, as an append-only list. Order is the contract: a database at version N has run
//! exactly the first N entries, so never edit or reorder one that has shipped; add a new one at
//! the end. A test pins the shipped entries' hashes.

pub const MIGRATIONS: &[&str] = &[
    // 1: sources, stories, items, dedupe indexes, outbox.
    r"
    CREATE TABLE sources (
        id                 INTEGER PRIMARY KEY,
        name               TEXT NOT NULL UNIQUE,
        url                TEXT NOT NULL,
        role               TEXT NOT NULL,
        etag               TEXT,
        last_modified      TEXT,
        last_status        TEXT,
        last_attempt_at    TEXT,
        last_success_at    TEXT,
        last_error         TEXT,
        last_error_at      TEXT,
        consecutive_errors INTEGER NOT NULL DEFAULT 0,
        retry_after        TEXT,
        min_interval_secs  INTEGER,
        next_due_at        TEXT,
        gone               INTEGER NOT NULL DEFAULT 0,
        backfilled         INTEGER NOT NULL DEFAULT 0,
        items_seen         INTEGER NOT NULL DEFAULT 0
    );

    CREATE TABLE stories (
        id         INTEGER PRIMARY KEY,
        atom_id    TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        published  TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        merged_into INTEGER REFERENCES stories(id)
    );
    CREATE INDEX stories_published ON stories(published);

    CREATE TABLE items (
        id            INTEGER PRIMARY KEY,
        source_id     INTEGER NOT NULL REFERENCES sources(id),
        guid          TEXT NOT NULL,
        data          TEXT NOT NULL,
        content_hash  TEXT NOT NULL,
        canonical_url TEXT,
        title_key     TEXT,
        published     TEXT NOT NULL,
        first_seen    TEXT NOT NULL,
        changed_at    TEXT NOT NULL,
        story_id      INTEGER NOT NULL REFERENCES stories(id),
        match_reason  TEXT NOT NULL,
        match_score   REAL NOT NULL,
        UNIQUE (source_id, guid)
    );
    CREATE INDEX items_story ON items(story_id);
    CREATE INDEX items_canonical_url ON items(canonical_url) WHERE canonical_url IS NOT NULL;
    CREATE INDEX items_title_key ON items(title_key) WHERE title_key IS NOT NULL;

    CREATE TABLE text_anchors (
        anchor  INTEGER NOT NULL,
        item_id INTEGER NOT NULL REFERENCES items(id),
        PRIMARY KEY (anchor, item_id)
    ) WITHOUT ROWID;

    CREATE TABLE outbox (
        id              INTEGER PRIMARY KEY,
        story_id        INTEGER NOT NULL REFERENCES stories(id),
        sink            TEXT NOT NULL,
        idempotency_key TEXT NOT NULL UNIQUE,
        created_at      TEXT NOT NULL,
        due_at          TEXT NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        state           TEXT NOT NULL DEFAULT 'pending',
        last_error      TEXT,
        delivered_at    TEXT,
        UNIQUE (story_id, sink)
    );
    CREATE INDEX outbox_pending ON outbox(state, due_at);
    ",
    // 2: permanent redirects. A feed that answers 301/308 to https on several polls in a row
    // is polled at its new address; the configured URL stays its identity.
    r"
    ALTER TABLE sources ADD COLUMN moved_to TEXT;
    ALTER TABLE sources ADD COLUMN redirect_candidate TEXT;
    ALTER TABLE sources ADD COLUMN redirect_seen INTEGER NOT NULL DEFAULT 0;
    ",
    // 3: a hash of each item's bytes as the last poll saw them, so the next poll parses only
    // the items that changed (8 bytes per item, little-endian u64s).
    r"
    ALTER TABLE sources ADD COLUMN item_digests BLOB;
    ",
    // 4: mirrors as the world makes them. Each member's role in its story; what an origin feed
    // says of itself (its title and authors, the decorations mirrors put around its titles);
    // the indexes of the new evidence (a title's other readings, its word runs, outbound links
    // and audio files, items by date); the passages a feed repeats in every item
    // (boilerplate, which proves nothing); and the corrections people make, which no later
    // matcher decision undoes.
    r"
    ALTER TABLE items ADD COLUMN member_role TEXT;
    ALTER TABLE sources ADD COLUMN feed_title TEXT;
    ALTER TABLE sources ADD COLUMN feed_authors TEXT;
    ALTER TABLE stories ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;

    CREATE INDEX items_published ON items(published);
    CREATE INDEX items_source_published ON items(source_id, published);

    CREATE TABLE title_keys (
        key     TEXT NOT NULL,
        item_id INTEGER NOT NULL REFERENCES items(id),
        PRIMARY KEY (key, item_id)
    ) WITHOUT ROWID;

    CREATE TABLE title_grams (
        gram    INTEGER NOT NULL,
        item_id INTEGER NOT NULL REFERENCES items(id),
        PRIMARY KEY (gram, item_id)
    ) WITHOUT ROWID;

    CREATE TABLE outbound_links (
        link    TEXT NOT NULL,
        item_id INTEGER NOT NULL REFERENCES items(id),
        PRIMARY KEY (link, item_id)
    ) WITHOUT ROWID;

    CREATE TABLE boilerplate (
        source_id INTEGER NOT NULL REFERENCES sources(id),
        shingle   INTEGER NOT NULL,
        PRIMARY KEY (source_id, shingle)
    ) WITHOUT ROWID;

    CREATE TABLE corrections (
        id         INTEGER PRIMARY KEY,
        action     TEXT NOT NULL CHECK (action IN ('split', 'merge')),
        item_id    INTEGER REFERENCES items(id),
        story_id   INTEGER NOT NULL REFERENCES stories(id),
        other_id   INTEGER NOT NULL REFERENCES stories(id),
        created_at TEXT NOT NULL
    );
    CREATE INDEX corrections_story ON corrections(story_id);
    CREATE INDEX corrections_other ON corrections(other_id);
    ",
    // 5: follow-ups, one message per story kept current. The outbox is rebuilt (SQLite cannot
    // drop a table constraint) so that a (story, sink) holds its first message ('new') and any
    // number of edits ('update', numbered by `revision`). `changes` is the JSON list of what
    // changed, `generation` counts the changes folded into a pending row after it was queued
    // (a send that read an older generation owes a follow-up), and `remote_id` is the
    // service's id of the first message (Slack channel and ts, Discord message id, Matrix
    // event id), kept when it is acknowledged so later edits can name it. `attempted_at` is
    // set just before each request goes out: from then on the receiver may hold the message
    // even if no answer is ever recorded (a crash mid-request), so its content is no longer
    // changed under its key and a merge no longer cancels it.
    r"
    CREATE TABLE outbox_v5 (
        id              INTEGER PRIMARY KEY,
        story_id        INTEGER NOT NULL REFERENCES stories(id),
        sink            TEXT NOT NULL,
        idempotency_key TEXT NOT NULL UNIQUE,
        created_at      TEXT NOT NULL,
        due_at          TEXT NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        state           TEXT NOT NULL DEFAULT 'pending',
        last_error      TEXT,
        delivered_at    TEXT,
        kind            TEXT NOT NULL DEFAULT 'new' CHECK (kind IN ('new', 'update')),
        revision        INTEGER NOT NULL DEFAULT 0,
        changes         TEXT NOT NULL DEFAULT '[]',
        generation      INTEGER NOT NULL DEFAULT 0,
        remote_id       TEXT,
        attempted_at    TEXT
    );
    INSERT INTO outbox_v5 (id, story_id, sink, idempotency_key, created_at, due_at, attempts,
                           state, last_error, delivered_at)
        SELECT id, story_id, sink, idempotency_key, created_at, due_at, attempts, state,
               last_error, delivered_at FROM outbox;
    DROP TABLE outbox;
    ALTER TABLE outbox_v5 RENAME TO outbox;
    CREATE UNIQUE INDEX outbox_first ON outbox(story_id, sink) WHERE kind = 'new';
    CREATE INDEX outbox_story_sink ON outbox(story_id, sink, kind, state);
    CREATE INDEX outbox_pending ON outbox(state, due_at);
    ",
    // 6 (issue #15): what tributary fetches and tells beyond the feeds themselves. The
    // transcripts episodes point to, once per URL (their words, or why they could not be had,
    // and when), and which item matches by which transcript's words; and, per WebSub hub and
    // merged-feed URL, the version (ETag) of the feed the hub last acknowledged, so a restart
    // pings only for a change the hub was not told about.
    r"
    CREATE TABLE transcripts (
        url        TEXT PRIMARY KEY,
        fetched_at TEXT NOT NULL,
        words      TEXT,
        error      TEXT
    );

    CREATE TABLE item_transcripts (
        item_id INTEGER PRIMARY KEY REFERENCES items(id),
        url     TEXT NOT NULL
    );

    CREATE TABLE websub_pings (
        hub       TEXT NOT NULL,
        feed_url  TEXT NOT NULL,
        etag      TEXT NOT NULL,
        pinged_at TEXT NOT NULL,
        PRIMARY KEY (hub, feed_url)
    ) WITHOUT ROWID;
    ",
    // 7 (issue #13): the items a mirror feed stored as a story of their own (a mirror's
    // implied role is `copy`; items stored before migration 4 have none), by date: every new
    // origin item asks which of them are about it, and asking each mirror feed in turn cost
    // every item as much as the feed list is long.
    r"
    CREATE INDEX items_founding_copies ON items(published)
        WHERE match_reason = 'new' AND coalesce(member_role, 'copy') = 'copy';
    ",
    // 8 (issue #11): the meaningful words of each writer's item's title, and of each mirror
    // item without a date that started a story of its own, by word. A summary under a headline
    // of its own, with no date to look around, finds the works whose titles its words name
    // (`WriteTx::titled_with`); a work stored after such a summary finds it the same way
    // (`WriteTx::mirrors_naming`). The items stored before it are indexed in the same
    // transaction, in Rust (`matching::index_stored_words`).
    r"
    CREATE TABLE title_words (
        word    INTEGER NOT NULL,
        item_id INTEGER NOT NULL REFERENCES items(id),
        PRIMARY KEY (word, item_id)
    ) WITHOUT ROWID;

    CREATE TABLE mirror_words (
        word    INTEGER NOT NULL,
        item_id INTEGER NOT NULL REFERENCES items(id),
        PRIMARY KEY (word, item_id)
    ) WITHOUT ROWID;
    ",
    // 9 (issue #13): per merged-feed file, what it was last rendered from (the newest stories'
    // mark, the settings that shape it, the file as written). A `tributary poll` that brought
    // nothing new finds all three unchanged and leaves the file alone without rendering it
    // (`emit::publish_atom`).
    r"
    CREATE TABLE published_files (
        path  TEXT PRIMARY KEY,
        stamp TEXT NOT NULL
    ) WITHOUT ROWID;
    ",
];
