// id_memtable.h: the RocksDB memtable of the event-id index ("ids" column family).
//
// Event ids are random: in a skiplist memtable every insert costs O(log n) cache misses,
// and a hash memtable moves the same cost to the flush, which rebuilds a sorted skiplist
// of every entry one random insert at a time (measured as most of the engine's CPU under
// sustained appends). This memtable appends each entry to a vector and to an open-
// addressing hash table of user keys: an insert is O(1), a point lookup (Get) reads only
// the entries of its key, and a flush sorts the vector once (std::sort on an 8-byte key
// prefix, falling back to the full comparison).
//
// Only for a family with the bytewise comparator that is read by point lookups: an
// iterator over the mutable memtable copies and sorts it; the prefix-seek iterator (used
// by Get) yields only the entries of the sought user key.
//
// Thread-safety: as RocksDB requires of a memtable: one inserting thread, concurrent
// readers (a mutex guards the vector and the table; iterators work on sorted copies).
#pragma once

#include <rocksdb/memtablerep.h>

#include <memory>

namespace dt::store {

std::unique_ptr<rocksdb::MemTableRepFactory> NewIdMemTableFactory();

}  // namespace dt::store
