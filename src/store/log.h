// log.h: the segmented log: segment files, writer.chk, recovery of the torn tail.
//
// A segment file log/<base>.seg (base: 20 decimal digits) holds the log from position
// `base` on; the next segment starts exactly where this one's data ends, so positions are
// dense byte offsets with no gaps. Segments are preallocated (fallocate) and read as
// zeros past their data. writer.chk holds a position up to which the log is known durable.
// See docs/LOG_FORMAT.md.
//
// Thread-safety: Open, Roll, Write, Sync, SaveCheckpoint and ZeroTail are called by one
// thread at a time (the store's writer); ReadAt, DataEnd and Describe may be called from any
// thread concurrently with them.
// Lifetime: the FileSystem must outlive the Log.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/fs.h"

namespace dt::store {

struct LogRecovery {
  uint64_t checkpoint = 0;     // writer.chk at open
  uint64_t end = 0;            // end of the valid log (the new head)
  uint64_t scanned_bytes = 0;  // bytes checked past the checkpoint
  uint64_t cut_bytes = 0;      // bytes of torn tail cut off (0 when the tail was clean)
  std::string cut_reason;      // why the scan stopped where it cut ("" when clean)
  int removed_segments = 0;    // segment files past the tail that were removed
};

class Log {
 public:
  struct Options {
    FileSystem* fs = nullptr;
    std::string folder;            // data folder; the log lives in folder/log
    uint64_t segment_bytes = 256ull << 20;
  };

  // Opens the log, scanning from writer.chk to find the end of the valid log; cuts a torn
  // tail (zeroes it and removes later segments). kCorruption (naming file and offset) when
  // writer.chk claims more durable data than the log holds.
  static Result<std::unique_ptr<Log>> Open(const Options& options, LogRecovery* recovery);
  ~Log();

  // ---- writer thread ----
  // End of the written log (where the next record goes).
  uint64_t end() const { return end_; }
  // First position past the room of the current segment.
  uint64_t limit() const;
  // Syncs the current segment and starts a new one at end() with room for at least
  // min_bytes. On failure (e.g. no space) nothing changes and the log stays usable.
  Status Roll(uint64_t min_bytes);
  // Writes bytes at end() (they must fit below limit()) and advances end().
  Status Write(std::string_view bytes);
  // fdatasync of the current segment.
  Status Sync();
  // Records `pos` (a durable record boundary) in writer.chk; with sync, fdatasyncs it.
  Status SaveCheckpoint(uint64_t pos, bool sync);
  // Makes [from, end()) read as zeros and sets end() = from (after a failed group).
  Status ZeroTail(uint64_t from);

  // ---- any thread ----
  // Reads up to n bytes at pos from the segment holding pos, never past the segment's data
  // range (the next segment's base) nor past its room. *got = 0 when nothing is there.
  Status ReadAt(uint64_t pos, size_t n, char* dst, size_t* got) const;
  // End of the data range of the segment holding pos (0 when no segment holds it).
  uint64_t DataEnd(uint64_t pos) const;
  // Path of the segment file holding pos and pos's offset in it (for error messages).
  std::string Describe(uint64_t pos) const;

 private:
  struct Segment {
    uint64_t base = 0;
    uint64_t room = 0;  // file size (preallocated)
    std::shared_ptr<File> file;
  };
  Log(const Options& options);
  std::shared_ptr<const Segment> Find(uint64_t pos, uint64_t* data_end) const;
  Result<std::shared_ptr<Segment>> CreateSegment(uint64_t base, uint64_t room);
  std::string SegmentName(uint64_t base) const;

  Options options_;
  std::string dir_;
  std::unique_ptr<File> chk_;
  uint64_t end_ = 0;  // writer thread only
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<const Segment>> segments_;  // GUARDED_BY(mu_), sorted by base
};

// Forward reader over [from, limit) of the log, through a large buffer.
//
// Thread-safety: one thread at a time. Lifetime: the Log must outlive it.
class LogReader {
 public:
  enum class Step {
    kRecord,     // *view holds the next record (valid until the next call)
    kEnd,        // reached `limit`
    kZero,       // no record here: zeros, or no bytes at all (end of the written log)
    kTruncated,  // the bytes stop in the middle of a record
    kBad,        // bytes that are not a valid record (why: error())
  };
  // `buffer`: storage to read into instead of the reader's own (kept by a caller that reads
  // often, so it is not allocated and zeroed each time); its contents do not matter.
  LogReader(const Log& log, uint64_t from, uint64_t limit, size_t buffer_bytes = 1 << 20,
            std::string* buffer = nullptr);

  Step Next(struct RecordView* view);
  uint64_t position() const { return pos_; }  // of the next record
  const std::string& error() const { return error_; }
  // Next() as a Result for reads of acknowledged data: true = record, false = end;
  // anything else is kCorruption naming the segment file and offset.
  Result<bool> NextChecked(struct RecordView* view);

 private:
  const Log& log_;
  uint64_t pos_;
  uint64_t limit_;
  size_t buffer_bytes_;
  std::string own_buf_;
  std::string& buf_;
  uint64_t buf_pos_ = 0;   // log position of buf_[0]
  size_t buf_len_ = 0;     // valid bytes in buf_
  std::string error_;
};

}  // namespace dt::store
