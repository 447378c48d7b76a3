// Metrics: a small registry of counters, gauges and histograms with labels, rendered
// in the Prometheus text exposition format (version 0.0.4) for GET /metrics.
//
// What it is for: both servers count requests, connections and their own domain figures
// here. Values kept elsewhere (e.g. the engine's Stats) are exposed by a collector: a
// function called at scrape time that appends samples with the Append* helpers.
//
// Thread-safety: every method is thread-safe. Metric updates are lock-free atomics;
// Get* takes a lock (look a metric up once and keep the reference on hot paths).
// Lifetime: references returned by Get* live as long as the Registry.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dt::http {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Inc(double by = 1) { v_.fetch_add(by, std::memory_order_relaxed); }
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

class Gauge {
 public:
  void Set(double v) { v_.store(v, std::memory_order_relaxed); }
  void Inc(double by = 1) { v_.fetch_add(by, std::memory_order_relaxed); }
  void Dec(double by = 1) { v_.fetch_sub(by, std::memory_order_relaxed); }
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);  // ascending; +Inf is implicit
  void Observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  // Non-cumulative count per bucket (the last one is +Inf), the sum and the total count.
  std::vector<uint64_t> counts() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0};
};

// Bucket bounds for request latencies in seconds: 100 µs … 10 s.
std::vector<double> LatencyBuckets();

class Registry {
 public:
  Counter& GetCounter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& GetGauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& GetHistogram(const std::string& name, const std::string& help,
                          const std::vector<double>& bounds, const Labels& labels = {});

  using Collector = std::function<void(std::string& out)>;
  void AddCollector(Collector collector);

  // The whole exposition: registered families by name, then the collectors' output.
  std::string Render() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Family {
    Type type;
    std::string help;
    std::map<std::string, std::unique_ptr<Counter>> counters;      // key: rendered labels
    std::map<std::string, std::unique_ptr<Gauge>> gauges;
    std::map<std::string, std::pair<Labels, std::unique_ptr<Histogram>>> histograms;
  };
  Family& FamilyFor(const std::string& name, const std::string& help, Type type);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;  // guarded by mu_
  std::vector<Collector> collectors_;       // guarded by mu_
};

// Text-format helpers for collectors. `labels` are rendered as {k="v",...}.
std::string RenderLabels(const Labels& labels);
void AppendHeader(std::string& out, std::string_view name, std::string_view help,
                  std::string_view type);
void AppendSample(std::string& out, std::string_view name, const Labels& labels, double value);
// `counts` non-cumulative, one per bound plus the +Inf bucket.
void AppendHistogram(std::string& out, std::string_view name, const Labels& labels,
                     const std::vector<double>& bounds, const std::vector<uint64_t>& counts,
                     double sum);

}  // namespace dt::http
