#include "store/record.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

namespace dt::store {
namespace {

RecordFields Sample(std::string* storage) {
  *storage = "payload-bytes";
  RecordFields f;
  f.position = 4096;
  f.number = 42;
  f.created_us = 1700000000000000;
  f.id = Uuid::Random();
  f.commit = true;
  f.is_json = true;
  f.stream = "account-17";
  f.type = "Deposited";
  f.data = *storage;
  f.metadata = "{\"m\":1}";
  return f;
}

TEST(Record, RoundTripsEveryField) {
  std::string storage, buf;
  RecordFields f = Sample(&storage);
  EncodeRecord(f, &buf);
  ASSERT_EQ(buf.size(), EncodedSize(f.stream.size(), f.type.size(), f.data.size(), f.metadata.size()));
  RecordView v;
  std::string err;
  ASSERT_EQ(DecodeRecord(buf.data(), buf.size(), 4096, &v, &err), DecodeStatus::kOk) << err;
  EXPECT_EQ(v.position, 4096u);
  EXPECT_EQ(v.length, buf.size());
  EXPECT_EQ(v.number, 42);
  EXPECT_EQ(v.created_us, 1700000000000000);
  EXPECT_EQ(v.id, f.id);
  EXPECT_TRUE(v.commit());
  EXPECT_TRUE(v.is_json());
  EXPECT_EQ(v.stream, "account-17");
  EXPECT_EQ(v.type, "Deposited");
  EXPECT_EQ(v.data, "payload-bytes");
  EXPECT_EQ(v.metadata, "{\"m\":1}");
}

TEST(Record, EveryFlippedBitIsDetected) {
  std::string storage, buf;
  EncodeRecord(Sample(&storage), &buf);
  for (size_t i = 0; i < buf.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = buf;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      RecordView v;
      std::string err;
      DecodeStatus s = DecodeRecord(bad.data(), bad.size(), 4096, &v, &err);
      EXPECT_NE(s, DecodeStatus::kOk) << "byte " << i << " bit " << bit;
    }
  }
}

TEST(Record, ZerosAreNoRecordAndShortBytesAreTruncated) {
  std::string zeros(100, '\0');
  RecordView v;
  std::string err;
  uint64_t needed = 0;
  EXPECT_EQ(DecodeRecord(zeros.data(), zeros.size(), 0, &v, &err), DecodeStatus::kZero);
  std::string storage, buf;
  EncodeRecord(Sample(&storage), &buf);
  EXPECT_EQ(DecodeRecord(buf.data(), buf.size() - 1, 4096, &v, &err, &needed), DecodeStatus::kTruncated);
  EXPECT_EQ(needed, buf.size());
  EXPECT_EQ(DecodeRecord(buf.data(), 5, 4096, &v, &err), DecodeStatus::kTruncated);
}

TEST(Record, StaleRecordAtAnotherPositionIsBad) {
  std::string storage, buf;
  EncodeRecord(Sample(&storage), &buf);
  RecordView v;
  std::string err;
  EXPECT_EQ(DecodeRecord(buf.data(), buf.size(), 8192, &v, &err), DecodeStatus::kBad);
  EXPECT_NE(err.find("position"), std::string::npos);
}

TEST(Record, EmptyDataAndMetadataRoundTrip) {
  std::string buf;
  RecordFields f;
  f.position = 0;
  f.number = INT64_MAX;
  f.id = Uuid::Random();
  f.stream = "s";
  f.type = "$streamDeleted";
  EncodeRecord(f, &buf);
  RecordView v;
  std::string err;
  ASSERT_EQ(DecodeRecord(buf.data(), buf.size(), 0, &v, &err), DecodeStatus::kOk);
  EXPECT_EQ(v.number, INT64_MAX);
  EXPECT_TRUE(v.data.empty());
  EXPECT_FALSE(v.commit());
  EXPECT_EQ(PeekRecordLength(buf.data()), buf.size());
  EXPECT_EQ(PeekTrailerLength(buf.data() + buf.size()), buf.size());
}

}  // namespace
}  // namespace dt::store

namespace dt::store {
namespace {

// The fuzz seeds were written by an independent encoder (from docs/LOG_FORMAT.md): the
// decoder must accept the valid ones.
TEST(Record, FuzzSeedsWrittenFromTheDocumentDecode) {
  for (const char* name : {"one-record", "batch-of-three", "tombstone", "metadata"}) {
    std::ifstream in(std::string(DT_STORE_SOURCE_DIR) + "/fuzz/record_corpus/" + name, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_FALSE(bytes.empty()) << name;
    uint64_t base;
    std::memcpy(&base, bytes.data() + format::kPositionOffset, 8);
    size_t off = 0, records = 0;
    while (off < bytes.size()) {
      RecordView v;
      std::string err;
      ASSERT_EQ(DecodeRecord(bytes.data() + off, bytes.size() - off, base + off, &v, &err), DecodeStatus::kOk)
          << name << ": " << err;
      off += v.length;
      ++records;
      if (off == bytes.size()) {
        EXPECT_TRUE(v.commit()) << name;
      }
    }
    EXPECT_GE(records, 1u);
  }
}

}  // namespace
}  // namespace dt::store
