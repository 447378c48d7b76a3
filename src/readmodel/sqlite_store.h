// SqliteStore: ReadModelStore in one SQLite file (WAL mode).
//
// One writer connection (the projector's) and a small pool of read-only connections for
// queries; WAL lets readers go on while the projector writes. synchronous=NORMAL: the read
// model is derived, and a batch lost to a power cut is re-applied from the checkpoint (which
// commits in the same transaction).
//
// A rebuild writes a new file, <path>.g<N>, without journal or syncs (worthless until
// complete), syncs it once and makes it live by turning <path> into a link to it
// (sqlite_files.h); the writer moves to it, every query first looks where <path> points (one
// readlink), so pooled connections of this and of other processes move at their next query,
// and the old file is unlinked (open connections keep reading it until they move). Each file
// holds its own projection_state, so a checkpoint always sits with the rows it covers.
//
// Thread-safety: see ReadModelStore.
#pragma once

#include <memory>
#include <string>

#include "readmodel/read_model_store.h"

namespace dt::readmodel {

// `path` of the database file; its folder is created if missing.
Result<std::unique_ptr<ReadModelStore>> OpenSqliteStore(const std::string& path);

}  // namespace dt::readmodel
