// PgStore: ReadModelStore in PostgreSQL (libpq).
//
// One writer connection (the projector's; it also holds the session advisory lock that
// elects the single active projector across instances) and a pool of query connections.
// A batch is written with one INSERT ... SELECT FROM unnest($arrays) ... ON CONFLICT per
// table, so a batch of thousands of events costs a handful of round trips.
//
// Thread-safety: see ReadModelStore.
#pragma once

#include <memory>
#include <string>

#include "readmodel/read_model_store.h"

namespace dt::readmodel {

// `url`: a libpq connection URI (postgresql://user:pass@host:port/db?options=...).
Result<std::unique_ptr<ReadModelStore>> OpenPgStore(const std::string& url);

// The advisory locks (two-key form: this class and the hash of the schema's name) that
// elect the projector and serialise schema migrations.
inline constexpr int32_t kProjectorLockClass = 0x44547231;  // "DTr1"
inline constexpr int32_t kMigrationLockClass = 0x44547232;  // "DTr2"

}  // namespace dt::readmodel
