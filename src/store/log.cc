#include "store/log.h"

#include <algorithm>
#include <cinttypes>
#include <cstring>

#include "common/crc32c.h"
#include "store/record.h"

namespace dt::store {
namespace {

constexpr char kChkName[] = "writer.chk";
constexpr uint32_t kChkMagic = 0x4B484344;  // "DCHK"
constexpr size_t kChkBytes = 16;            // u64 position, u32 crc32c(position), u32 magic

bool ParseSegmentName(const std::string& name, uint64_t* base) {
  if (name.size() != format::kSegmentNameDigits + 4 || name.compare(format::kSegmentNameDigits, 4, ".seg") != 0)
    return false;
  uint64_t v = 0;
  for (size_t i = 0; i < format::kSegmentNameDigits; ++i) {
    char c = name[i];
    if (c < '0' || c > '9') return false;
    if (v > (UINT64_MAX - 9) / 10) return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *base = v;
  return true;
}

}  // namespace

Log::Log(const Options& options) : options_(options), dir_(options.folder + "/log") {}
Log::~Log() = default;

std::string Log::SegmentName(uint64_t base) const {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020" PRIu64 ".seg", base);
  return buf;
}

Result<std::shared_ptr<Log::Segment>> Log::CreateSegment(uint64_t base, uint64_t room) {
  FileSystem& fs = *options_.fs;
  const std::string path = dir_ + "/" + SegmentName(base);
  DT_ASSIGN_OR_RETURN(std::unique_ptr<File> f, fs.Open(path, FileSystem::OpenMode::kCreate));
  Status s = f->Allocate(0, room);
  if (!s.ok()) {
    f.reset();
    (void)fs.Remove(path);
    return Status::IOError("cannot create segment " + path + " of " + std::to_string(room) +
                           " bytes: " + s.message());
  }
  DT_RETURN_IF_ERROR(fs.SyncDir(dir_));
  auto seg = std::make_shared<Segment>();
  seg->base = base;
  seg->room = room;
  seg->file = std::move(f);
  return seg;
}

Result<std::unique_ptr<Log>> Log::Open(const Options& options, LogRecovery* rec) {
  FileSystem& fs = *options.fs;
  std::unique_ptr<Log> log(new Log(options));
  *rec = LogRecovery{};
  DT_RETURN_IF_ERROR(fs.CreateDir(log->dir_));

  // Segments, sorted by base.
  DT_ASSIGN_OR_RETURN(std::vector<std::string> names, fs.ListDir(log->dir_));
  std::vector<std::pair<uint64_t, std::string>> found;
  for (const std::string& n : names) {
    uint64_t base;
    if (ParseSegmentName(n, &base)) found.emplace_back(base, n);
  }
  std::sort(found.begin(), found.end());
  for (auto& [base, name] : found) {
    const std::string path = log->dir_ + "/" + name;
    DT_ASSIGN_OR_RETURN(std::unique_ptr<File> f, fs.Open(path, FileSystem::OpenMode::kReadWrite));
    DT_ASSIGN_OR_RETURN(uint64_t size, f->Size());
    auto seg = std::make_shared<Segment>();
    seg->base = base;
    seg->room = size;
    seg->file = std::move(f);
    log->segments_.push_back(std::move(seg));
  }

  // writer.chk
  DT_ASSIGN_OR_RETURN(log->chk_, fs.Open(options.folder + "/" + kChkName, FileSystem::OpenMode::kCreate));
  {
    char buf[kChkBytes];
    size_t got = 0;
    DT_RETURN_IF_ERROR(log->chk_->ReadAt(0, kChkBytes, buf, &got));
    if (got == kChkBytes) {
      uint64_t pos;
      uint32_t crc, magic;
      std::memcpy(&pos, buf, 8);
      std::memcpy(&crc, buf + 8, 4);
      std::memcpy(&magic, buf + 12, 4);
      if (magic == kChkMagic && crc == crc32c::Value(&pos, 8)) {
        rec->checkpoint = pos;
      } else {
        return Status::Corruption(options.folder + "/" + kChkName +
                                  " is damaged (bad checksum); remove it to recover by "
                                  "scanning the whole log");
      }
    } else if (got != 0) {
      return Status::Corruption(options.folder + "/" + kChkName + " is truncated (" +
                                std::to_string(got) + " bytes); remove it to recover by "
                                "scanning the whole log");
    }
  }
  const uint64_t chk = rec->checkpoint;

  if (log->segments_.empty()) {
    if (chk > 0)
      return Status::Corruption(options.folder + "/" + kChkName + " says the log is durable up to " +
                                std::to_string(chk) + " but " + log->dir_ + " holds no segment");
    DT_ASSIGN_OR_RETURN(auto seg, log->CreateSegment(0, options.segment_bytes));
    log->segments_.push_back(std::move(seg));
    log->end_ = 0;
    return log;
  }

  // The segments must cover [0, ...) without gaps.
  if (log->segments_.front()->base != 0)
    return Status::Corruption(log->dir_ + ": the first segment starts at position " +
                              std::to_string(log->segments_.front()->base) +
                              " (segment " + log->SegmentName(0) + " is missing)");
  for (size_t i = 1; i < log->segments_.size(); ++i) {
    const auto& prev = *log->segments_[i - 1];
    if (log->segments_[i]->base > prev.base + prev.room || log->segments_[i]->base < prev.base)
      return Status::Corruption(log->dir_ + ": gap in the log between segment " +
                                log->SegmentName(prev.base) + " and " +
                                log->SegmentName(log->segments_[i]->base));
  }
  const auto& last = *log->segments_.back();
  if (chk > last.base + last.room)
    return Status::Corruption(options.folder + "/" + kChkName + " says the log is durable up to " +
                              std::to_string(chk) + " but the log ends at " +
                              std::to_string(last.base + last.room));

  // Scan from the checkpoint: records there were durable once, everything from the first
  // bad or missing record on (or an incomplete batch) is the torn tail.
  uint64_t end = chk;
  LogReader reader(*log, chk, UINT64_MAX, 4 << 20);
  RecordView v;
  LogReader::Step step;
  while ((step = reader.Next(&v)) == LogReader::Step::kRecord) {
    if (v.commit()) end = reader.position();
  }
  rec->scanned_bytes = reader.position() - chk;
  rec->end = end;
  switch (step) {
    case LogReader::Step::kZero:
      if (reader.position() != end) rec->cut_reason = "incomplete batch at the end of the log";
      break;
    case LogReader::Step::kTruncated:
      rec->cut_reason = "record cut short at " + log->Describe(reader.position());
      break;
    case LogReader::Step::kBad:
      rec->cut_reason = reader.error() + " at " + log->Describe(reader.position());
      break;
    default:
      break;
  }
  if (!rec->cut_reason.empty()) rec->cut_bytes = reader.position() - end;

  // Cut: remove segments that start past the end, zero the rest of the last one.
  while (log->segments_.size() > 1 && log->segments_.back()->base > end) {
    const std::string path = log->dir_ + "/" + log->SegmentName(log->segments_.back()->base);
    log->segments_.pop_back();
    DT_RETURN_IF_ERROR(fs.Remove(path));
    ++rec->removed_segments;
  }
  if (rec->removed_segments > 0) DT_RETURN_IF_ERROR(fs.SyncDir(log->dir_));
  const auto& tail = *log->segments_.back();
  if (end < tail.base + tail.room) {
    DT_RETURN_IF_ERROR(tail.file->ZeroRange(end - tail.base, tail.base + tail.room - end));
    DT_RETURN_IF_ERROR(tail.file->Sync());
  }
  log->end_ = end;
  return log;
}

uint64_t Log::limit() const {
  std::lock_guard lock(mu_);
  const auto& s = *segments_.back();
  return s.base + s.room;
}

std::shared_ptr<const Log::Segment> Log::Find(uint64_t pos, uint64_t* data_end) const {
  std::lock_guard lock(mu_);
  auto it = std::upper_bound(segments_.begin(), segments_.end(), pos,
                             [](uint64_t p, const std::shared_ptr<const Segment>& s) { return p < s->base; });
  if (it == segments_.begin()) return nullptr;
  auto next = it;
  --it;
  *data_end = next != segments_.end() ? (*next)->base : (*it)->base + (*it)->room;
  return *it;
}

uint64_t Log::DataEnd(uint64_t pos) const {
  uint64_t data_end = 0;
  return Find(pos, &data_end) ? data_end : 0;
}

Status Log::ReadAt(uint64_t pos, size_t n, char* dst, size_t* got) const {
  *got = 0;
  uint64_t data_end = 0;
  auto seg = Find(pos, &data_end);
  if (!seg || pos >= data_end) return Status::Ok();
  n = static_cast<size_t>(std::min<uint64_t>(n, data_end - pos));
  return seg->file->ReadAt(pos - seg->base, n, dst, got);
}

std::string Log::Describe(uint64_t pos) const {
  uint64_t data_end = 0;
  auto seg = Find(pos, &data_end);
  if (!seg) return "log position " + std::to_string(pos) + " (no segment holds it)";
  return seg->file->path() + " offset " + std::to_string(pos - seg->base) + " (log position " +
         std::to_string(pos) + ")";
}

Status Log::Roll(uint64_t min_bytes) {
  std::shared_ptr<const Segment> last;
  {
    std::lock_guard lock(mu_);
    last = segments_.back();
  }
  DT_RETURN_IF_ERROR(last->file->Sync());
  const uint64_t room = std::max<uint64_t>(options_.segment_bytes, min_bytes);
  if (last->base == end_) {
    // The current segment is empty: grow it instead of starting another at the same base.
    DT_RETURN_IF_ERROR(last->file->Allocate(0, room));
    auto grown = std::make_shared<Segment>(*last);
    grown->room = std::max(last->room, room);
    std::lock_guard lock(mu_);
    segments_.back() = std::move(grown);
    return Status::Ok();
  }
  DT_ASSIGN_OR_RETURN(auto seg, CreateSegment(end_, room));
  std::lock_guard lock(mu_);
  segments_.push_back(std::move(seg));
  return Status::Ok();
}

Status Log::Write(std::string_view bytes) {
  std::shared_ptr<const Segment> last;
  {
    std::lock_guard lock(mu_);
    last = segments_.back();
  }
  DT_RETURN_IF_ERROR(last->file->WriteAt(end_ - last->base, bytes));
  end_ += bytes.size();
  return Status::Ok();
}

Status Log::Sync() {
  std::shared_ptr<const Segment> last;
  {
    std::lock_guard lock(mu_);
    last = segments_.back();
  }
  return last->file->Sync();
}

Status Log::ZeroTail(uint64_t from) {
  std::shared_ptr<const Segment> last;
  {
    std::lock_guard lock(mu_);
    last = segments_.back();
  }
  if (from < end_) DT_RETURN_IF_ERROR(last->file->ZeroRange(from - last->base, end_ - from));
  end_ = from;
  return Status::Ok();
}

Status Log::SaveCheckpoint(uint64_t pos, bool sync) {
  char buf[kChkBytes];
  uint32_t crc = crc32c::Value(&pos, 8);
  std::memcpy(buf, &pos, 8);
  std::memcpy(buf + 8, &crc, 4);
  std::memcpy(buf + 12, &kChkMagic, 4);
  DT_RETURN_IF_ERROR(chk_->WriteAt(0, std::string_view(buf, kChkBytes)));
  if (sync) DT_RETURN_IF_ERROR(chk_->Sync());
  return Status::Ok();
}

// ---------------------------------------------------------------- LogReader

LogReader::LogReader(const Log& log, uint64_t from, uint64_t limit, size_t buffer_bytes,
                     std::string* buffer)
    : log_(log),
      pos_(from),
      limit_(limit),
      buffer_bytes_(buffer_bytes),
      buf_(buffer ? *buffer : own_buf_),
      buf_pos_(from) {}

LogReader::Step LogReader::Next(RecordView* view) {
  for (;;) {
    if (pos_ >= limit_) return Step::kEnd;
    const size_t off = static_cast<size_t>(pos_ - buf_pos_);
    const size_t avail = buf_len_ - off;
    const size_t usable = static_cast<size_t>(std::min<uint64_t>(avail, limit_ - pos_));
    uint64_t needed = 0;
    if (usable >= 8) {
      switch (DecodeRecord(buf_.data() + off, usable, pos_, view, &error_, &needed)) {
        case DecodeStatus::kOk:
          pos_ += view->length;
          return Step::kRecord;
        case DecodeStatus::kZero:
          return Step::kZero;
        case DecodeStatus::kBad:
          return Step::kBad;
        case DecodeStatus::kTruncated:
          break;
      }
      if (usable < avail || pos_ + needed > limit_) return Step::kTruncated;  // past limit
      // A record cannot extend past its segment's data.
      if (pos_ + needed > log_.DataEnd(pos_)) return Step::kTruncated;
    }
    // Refill: keep the unread bytes, read more after them.
    if (off > 0) {
      std::memmove(buf_.data(), buf_.data() + off, avail);
      buf_pos_ = pos_;
      buf_len_ = avail;
    }
    // A buffer handed in may be larger than this reader's; it reads `want` at most.
    size_t want = std::max<size_t>(buffer_bytes_, static_cast<size_t>(needed));
    if (buf_.size() < want) buf_.resize(want);
    size_t before = buf_len_;
    while (buf_len_ < want) {
      const uint64_t at = buf_pos_ + buf_len_;
      if (at >= limit_) break;
      size_t n = static_cast<size_t>(std::min<uint64_t>(want - buf_len_, limit_ - at));
      size_t got = 0;
      Status s = log_.ReadAt(at, n, buf_.data() + buf_len_, &got);
      if (!s.ok()) {
        error_ = s.message();
        return Step::kBad;
      }
      if (got == 0) break;
      buf_len_ += got;
    }
    if (buf_len_ == before) return avail == 0 ? Step::kZero : Step::kTruncated;
  }
}

Result<bool> LogReader::NextChecked(RecordView* view) {
  switch (Next(view)) {
    case Step::kRecord: return true;
    case Step::kEnd: return false;
    case Step::kZero:
      return Status::Corruption("missing record at " + log_.Describe(pos_));
    case Step::kTruncated:
      return Status::Corruption("truncated record at " + log_.Describe(pos_));
    case Step::kBad:
      return Status::Corruption(error_ + " at " + log_.Describe(pos_));
  }
  return Status::Internal("unreachable");
}

}  // namespace dt::store
