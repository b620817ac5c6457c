#include "api/metrics.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "tests/api/prometheus_check.h"

namespace hc::api {
namespace {

TEST(MetricsTest, RendersCountersGaugesAndHistograms) {
  MetricsRegistry reg;
  reg.GetCounter("api_requests_total", "Requests.", {{"route", "/v1/tx/{id}"}, {"status", "200"}})
      .Inc(3);
  reg.GetCounter("api_requests_total", "Requests.", {{"route", "/v1/tx/{id}"}, {"status", "404"}})
      .Inc();
  reg.GetGauge("node_height", "Height.").Set(12);
  Histogram& h = reg.GetHistogram("lat_seconds", "Latency.", {0.1, 1});
  h.Observe(0.05);
  h.Observe(0.1);  // bounds are inclusive
  h.Observe(0.5);
  h.Observe(7);

  const std::string text = reg.RenderPrometheus();
  EXPECT_EQ(text,
            "# HELP api_requests_total Requests.\n"
            "# TYPE api_requests_total counter\n"
            "api_requests_total{route=\"/v1/tx/{id}\",status=\"200\"} 3\n"
            "api_requests_total{route=\"/v1/tx/{id}\",status=\"404\"} 1\n"
            "# HELP lat_seconds Latency.\n"
            "# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{le=\"0.1\"} 2\n"
            "lat_seconds_bucket{le=\"1\"} 3\n"
            "lat_seconds_bucket{le=\"+Inf\"} 4\n"
            "lat_seconds_sum 7.65\n"
            "lat_seconds_count 4\n"
            "# HELP node_height Height.\n"
            "# TYPE node_height gauge\n"
            "node_height 12\n");
  std::string error;
  EXPECT_TRUE(testing::IsValidPrometheusText(text, &error)) << error;
}

TEST(MetricsTest, EscapesLabelValuesAndHelp) {
  MetricsRegistry reg;
  reg.GetCounter("c_total", "Line one\nback\\slash", {{"path", "a\"b\\c\nd"}}).Inc();
  const std::string text = reg.RenderPrometheus();
  EXPECT_NE(text.find("# HELP c_total Line one\\nback\\\\slash\n"), std::string::npos) << text;
  EXPECT_NE(text.find("c_total{path=\"a\\\"b\\\\c\\nd\"} 1\n"), std::string::npos) << text;
  std::string error;
  EXPECT_TRUE(testing::IsValidPrometheusText(text, &error)) << error;
}

TEST(MetricsTest, SameNameAndLabelsIsTheSameMetric) {
  MetricsRegistry reg;
  Counter& a = reg.GetCounter("x_total", "X.", {{"k", "v"}});
  Counter& b = reg.GetCounter("x_total", "X.", {{"k", "v"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &reg.GetCounter("x_total", "X.", {{"k", "w"}}));
}

TEST(MetricsTest, ConcurrentUpdatesAreCounted) {
  MetricsRegistry reg;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&reg, t] {
      for (int i = 0; i < 1000; ++i) {
        reg.GetCounter("n_total", "N.", {{"t", std::to_string(t % 2)}}).Inc();
        reg.GetGauge("g", "G.").Add(1);
        reg.GetHistogram("h", "H.", LatencyBucketsSeconds()).Observe(0.002);
        if (i % 100 == 0) (void)reg.RenderPrometheus();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(reg.GetCounter("n_total", "N.", {{"t", "0"}}).Value(), 2000u);
  EXPECT_EQ(reg.GetGauge("g", "G.").Value(), 4000);
  EXPECT_EQ(reg.GetHistogram("h", "H.", LatencyBucketsSeconds()).Take().count, 4000u);
}

// The checker the server test relies on must itself refuse what a scraper refuses.
TEST(PrometheusCheckTest, RefusesMalformedExpositions) {
  const char* bad[] = {
      "x 1",                                             // no final newline
      "# TYPE x counter\nx{a=\"1\"} 1\nx{a=\"1\"} 2\n",  // duplicate sample
      "# TYPE x counter\ny 1\n",                         // outside its family
      "# TYPE x counter\nx{a=1} 1\n",                    // unquoted label value
      "# TYPE x counter\nx one\n",                       // not a number
      "# TYPE x wobble\nx 1\n",                          // unknown type
      "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
      "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",  // no +Inf
      "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n",
  };
  for (const char* text : bad) {
    std::string error;
    EXPECT_FALSE(testing::IsValidPrometheusText(text, &error)) << text;
  }
  std::string error;
  EXPECT_TRUE(testing::IsValidPrometheusText(
      "# HELP h H.\n# TYPE h histogram\nh_bucket{r=\"a\",le=\"1\"} 1\n"
      "h_bucket{r=\"a\",le=\"+Inf\"} 2\nh_sum{r=\"a\"} 3.5\nh_count{r=\"a\"} 2\n",
      &error))
      << error;
}

TEST(MetricsDeathTest, MisuseAborts) {
  EXPECT_DEATH(
      {
        MetricsRegistry reg;
        reg.GetCounter("x", "X.");
        reg.GetGauge("x", "X.");
      },
      "two types");
  EXPECT_DEATH(MetricsRegistry().GetCounter("bad-name", "X."), "invalid metric name");
  EXPECT_DEATH(MetricsRegistry().GetCounter("x", "X.", {{"__reserved", "v"}}),
               "invalid label name");
  EXPECT_DEATH(MetricsRegistry().GetHistogram("h", "H.", {1, 1}), "");
}

}  // namespace
}  // namespace hc::api
