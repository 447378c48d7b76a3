#include "http/metrics.h"

#include <gtest/gtest.h>

namespace dt::http {
namespace {

TEST(MetricsTest, RendersCountersGaugesAndHistogramsWithLabels) {
  Registry r;
  r.GetCounter("req_total", "Requests", {{"code", "200"}}).Inc();
  r.GetCounter("req_total", "Requests", {{"code", "200"}}).Inc(2);
  r.GetCounter("req_total", "Requests", {{"code", "404"}}).Inc();
  r.GetGauge("conns", "Connections").Set(7);
  auto& h = r.GetHistogram("lat_seconds", "Latency", {0.1, 1});
  h.Observe(0.05);
  h.Observe(0.5);
  h.Observe(5);
  std::string text = r.Render();
  EXPECT_NE(text.find("# TYPE req_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("req_total{code=\"200\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("req_total{code=\"404\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("conns 7\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"0.1\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_count 3\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_sum 5.55\n"), std::string::npos);
}

TEST(MetricsTest, CollectorsAppendAtScrapeTime) {
  Registry r;
  int scrapes = 0;
  r.AddCollector([&](std::string& out) {
    ++scrapes;
    AppendHeader(out, "store_events", "Events", "counter");
    AppendSample(out, "store_events", {{"kind", "a\"b"}}, 42);
    AppendHistogram(out, "fsync_seconds", {}, {0.001}, {3, 1}, 0.01);
  });
  std::string text = r.Render();
  EXPECT_EQ(scrapes, 1);
  EXPECT_NE(text.find("store_events{kind=\"a\\\"b\"} 42\n"), std::string::npos);
  EXPECT_NE(text.find("fsync_seconds_bucket{le=\"0.001\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("fsync_seconds_bucket{le=\"+Inf\"} 4\n"), std::string::npos);
}

}  // namespace
}  // namespace dt::http
