// record_format.h: the on-disk layout of a log record, as constants.
//
// docs/LOG_FORMAT.md describes the same format in prose; keep both in step. All integers
// are little-endian. A record is:
//
//   offset  size  field
//   0       4     crc32c of bytes [4, length - 4) (everything but itself and the trailer)
//   4       4     length: the whole record in bytes, header and trailer included
//   8       8     position: the record's own log position (guards against stale bytes)
//   16      8     event number (int64; INT64_MAX for a tombstone's $streamDeleted)
//   24      8     created: microseconds since the Unix epoch (int64)
//   32      16    event id (UUID bytes as in RFC 4122 order)
//   48      1     flags (kFlag*)
//   49      1     format version (kFormatVersion)
//   50      2     stream name length
//   52      2     event type length
//   54      2     reserved, zero
//   56      4     data length
//   60      4     metadata length
//   64      ...   stream name, event type, data, metadata (no padding)
//   length-4 4    trailer: length again (lets $all be walked backwards)
//
// Thread-safety: constants only.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dt::store::format {

inline constexpr size_t kCrcOffset = 0;
inline constexpr size_t kLengthOffset = 4;
inline constexpr size_t kPositionOffset = 8;
inline constexpr size_t kNumberOffset = 16;
inline constexpr size_t kCreatedOffset = 24;
inline constexpr size_t kIdOffset = 32;
inline constexpr size_t kFlagsOffset = 48;
inline constexpr size_t kVersionOffset = 49;
inline constexpr size_t kStreamLenOffset = 50;
inline constexpr size_t kTypeLenOffset = 52;
inline constexpr size_t kReservedOffset = 54;
inline constexpr size_t kDataLenOffset = 56;
inline constexpr size_t kMetaLenOffset = 60;
inline constexpr size_t kHeaderSize = 64;
inline constexpr size_t kTrailerSize = 4;
inline constexpr size_t kOverhead = kHeaderSize + kTrailerSize;

// The CRC covers [kCrcCoveredFrom, length - kTrailerSize).
inline constexpr size_t kCrcCoveredFrom = kLengthOffset;

inline constexpr uint8_t kFormatVersion = 1;

// Flags.
inline constexpr uint8_t kFlagCommit = 1u << 0;  // last record of an atomic batch
inline constexpr uint8_t kFlagIsJson = 1u << 1;  // data (and metadata) are JSON
inline constexpr uint8_t kKnownFlags = kFlagCommit | kFlagIsJson;

// Limits enforced by the encoder and checked by the decoder.
inline constexpr size_t kMaxStreamNameBytes = 0xFFFF;
inline constexpr size_t kMaxTypeBytes = 0xFFFF;
// A record's length field is 32 bits; the engine's own limits are far below it.
inline constexpr uint64_t kMaxRecordBytes = 0xFFFFFFFFull;

// Bytes every segment file starts with before its first record: none. A segment file is
// named after the log position of its first byte (log/<20 decimal digits>.seg).
inline constexpr size_t kSegmentNameDigits = 20;

static_assert(kLengthOffset == kCrcOffset + 4);
static_assert(kPositionOffset == kLengthOffset + 4);
static_assert(kNumberOffset == kPositionOffset + 8);
static_assert(kCreatedOffset == kNumberOffset + 8);
static_assert(kIdOffset == kCreatedOffset + 8);
static_assert(kFlagsOffset == kIdOffset + 16);
static_assert(kVersionOffset == kFlagsOffset + 1);
static_assert(kStreamLenOffset == kVersionOffset + 1);
static_assert(kTypeLenOffset == kStreamLenOffset + 2);
static_assert(kReservedOffset == kTypeLenOffset + 2);
static_assert(kDataLenOffset == kReservedOffset + 2);
static_assert(kMetaLenOffset == kDataLenOffset + 4);
static_assert(kHeaderSize == kMetaLenOffset + 4);
static_assert(kHeaderSize % 8 == 0, "header keeps 8-byte fields aligned relative to its start");

}  // namespace dt::store::format
