# Gouji: the two commands a newcomer needs are `make demo` (main job) and `make test` (all tests).
.PHONY: build demo test test-rust test-python bench fmt lint rules-doc

build:
	cargo build --workspace --all-targets

## Main job: start validation, ingestion (SQLite) and aggregation on loopback, submit and validate the
## fictional department, samples/ and ../shared/seeds, aggregate the departments, print, stop.
demo: build
	./target/debug/gouji demo

## Every test: Rust unit/integration/property tests, then external clients (grpcurl, Python grpcio) and Helm.
test: build test-rust test-python

## Rust tests; the storage and end-to-end suites also run on a throwaway PostgreSQL.
test-rust:
	scripts/ci/with-postgres.sh cargo test --workspace

test-python:
	GOUJI_BIN_DIR=$(CURDIR)/target/debug scripts/ci/python-tests.sh -q

bench:
	cargo bench -p gouji-domain --bench parse_validate
	cargo bench -p gouji-domain --bench consolidate
	scripts/ci/with-postgres.sh cargo bench -p gouji-ingestion --bench ingest_load
	cargo bench -p gouji-validation --bench grpc_load -- --secs 10 --warmup 2 --concurrency 64 --connections 4

fmt:
	cargo fmt --all

## Clippy over every target; warnings fail (CI runs it).
lint:
	cargo clippy --workspace --all-targets -- -D warnings

## Regenerate docs/rules.md from the rule catalog.
rules-doc: build
	./target/debug/gouji rules > docs/rules.md
