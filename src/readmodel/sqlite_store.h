// SqliteStore: ReadModelStore in one SQLite file (WAL mode).
//
// One writer connection (the projector's) and a small pool of read-only connections for
// queries; WAL lets readers go on while the projector writes and while a rebuild swaps
// tables. synchronous=NORMAL: the read model is derived, and a batch lost to a power cut is
// re-applied from the checkpoint (which commits in the same transaction).
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
