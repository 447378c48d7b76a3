#include "store/record.h"

#include <cstring>

#include "common/crc32c.h"

namespace dt::store {
namespace {

using namespace format;

template <typename T>
void Put(char* p, T v) {
  static_assert(std::is_integral_v<T>);
  std::memcpy(p, &v, sizeof v);  // the engine only builds on little-endian machines
}
template <typename T>
T Get(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the log format is little-endian");

}  // namespace

void EncodeRecord(const RecordFields& f, std::string* out) {
  const uint64_t size = EncodedSize(f.stream.size(), f.type.size(), f.data.size(),
                                    f.metadata.size());
  const size_t start = out->size();
  out->resize(start + size);
  char* p = out->data() + start;
  Put<uint32_t>(p + kLengthOffset, static_cast<uint32_t>(size));
  Put<uint64_t>(p + kPositionOffset, f.position);
  Put<int64_t>(p + kNumberOffset, f.number);
  Put<int64_t>(p + kCreatedOffset, f.created_us);
  std::memcpy(p + kIdOffset, f.id.bytes.data(), 16);
  p[kFlagsOffset] = static_cast<char>((f.commit ? kFlagCommit : 0) | (f.is_json ? kFlagIsJson : 0));
  p[kVersionOffset] = static_cast<char>(kFormatVersion);
  Put<uint16_t>(p + kStreamLenOffset, static_cast<uint16_t>(f.stream.size()));
  Put<uint16_t>(p + kTypeLenOffset, static_cast<uint16_t>(f.type.size()));
  Put<uint16_t>(p + kReservedOffset, 0);
  Put<uint32_t>(p + kDataLenOffset, static_cast<uint32_t>(f.data.size()));
  Put<uint32_t>(p + kMetaLenOffset, static_cast<uint32_t>(f.metadata.size()));
  char* q = p + kHeaderSize;
  std::memcpy(q, f.stream.data(), f.stream.size());
  q += f.stream.size();
  std::memcpy(q, f.type.data(), f.type.size());
  q += f.type.size();
  if (!f.data.empty()) std::memcpy(q, f.data.data(), f.data.size());
  q += f.data.size();
  if (!f.metadata.empty()) std::memcpy(q, f.metadata.data(), f.metadata.size());
  q += f.metadata.size();
  Put<uint32_t>(q, static_cast<uint32_t>(size));
  Put<uint32_t>(p + kCrcOffset, crc32c::Value(p + kCrcCoveredFrom, size - kTrailerSize - kCrcCoveredFrom));
}

uint32_t PeekRecordLength(const char* p) { return Get<uint32_t>(p + kLengthOffset); }
uint32_t PeekTrailerLength(const char* p_end) { return Get<uint32_t>(p_end - kTrailerSize); }

DecodeStatus DecodeRecord(const char* p, size_t avail, uint64_t expected_position,
                          RecordView* v, std::string* error, uint64_t* needed) {
  if (needed) *needed = 0;
  if (avail < kLengthOffset + 4) return DecodeStatus::kTruncated;
  const uint32_t length = Get<uint32_t>(p + kLengthOffset);
  if (length == 0) return DecodeStatus::kZero;
  if (length < kOverhead) {
    *error = "record length " + std::to_string(length) + " is below the minimum";
    return DecodeStatus::kBad;
  }
  if (avail < length) {
    if (needed) *needed = length;
    return DecodeStatus::kTruncated;
  }
  if (Get<uint32_t>(p + length - kTrailerSize) != length) {
    *error = "record trailer does not match its length";
    return DecodeStatus::kBad;
  }
  const uint32_t crc = crc32c::Value(p + kCrcCoveredFrom, length - kTrailerSize - kCrcCoveredFrom);
  if (crc != Get<uint32_t>(p + kCrcOffset)) {
    *error = "record checksum mismatch";
    return DecodeStatus::kBad;
  }
  if (static_cast<uint8_t>(p[kVersionOffset]) != kFormatVersion) {
    *error = "unknown record format version " + std::to_string(static_cast<uint8_t>(p[kVersionOffset]));
    return DecodeStatus::kBad;
  }
  const uint8_t flags = static_cast<uint8_t>(p[kFlagsOffset]);
  if (flags & ~kKnownFlags) {
    *error = "unknown record flags";
    return DecodeStatus::kBad;
  }
  const uint64_t position = Get<uint64_t>(p + kPositionOffset);
  if (position != expected_position) {
    *error = "record claims position " + std::to_string(position);
    return DecodeStatus::kBad;
  }
  const uint16_t stream_len = Get<uint16_t>(p + kStreamLenOffset);
  const uint16_t type_len = Get<uint16_t>(p + kTypeLenOffset);
  const uint32_t data_len = Get<uint32_t>(p + kDataLenOffset);
  const uint32_t meta_len = Get<uint32_t>(p + kMetaLenOffset);
  if (Get<uint16_t>(p + kReservedOffset) != 0 ||
      EncodedSize(stream_len, type_len, data_len, meta_len) != length) {
    *error = "record field lengths do not add up to its length";
    return DecodeStatus::kBad;
  }
  v->position = position;
  v->length = length;
  v->number = Get<int64_t>(p + kNumberOffset);
  v->created_us = Get<int64_t>(p + kCreatedOffset);
  std::memcpy(v->id.bytes.data(), p + kIdOffset, 16);
  v->flags = flags;
  const char* q = p + kHeaderSize;
  v->stream = std::string_view(q, stream_len);
  q += stream_len;
  v->type = std::string_view(q, type_len);
  q += type_len;
  v->data = std::string_view(q, data_len);
  q += data_len;
  v->metadata = std::string_view(q, meta_len);
  return DecodeStatus::kOk;
}

}  // namespace dt::store
