#include "api/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "common/assert.h"

namespace hc::api {

namespace {

bool IsMetricName(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool IsLabelName(std::string_view s) {
  if (s.empty() || s.starts_with("__")) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

void AppendEscaped(std::string& out, std::string_view s, bool escape_quote) {
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && escape_quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

void AppendDouble(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
    HC_ASSERT(ec == std::errc());
    out.append(buf, end);
  }
}

// `{a="x",b="y"}` (empty when there are no labels), with `extra` (the histogram's le) last.
std::string RenderLabels(const Labels& labels, std::string_view extra_name = {},
                         std::string_view extra_value = {}) {
  if (labels.empty() && extra_name.empty()) return {};
  std::string out = "{";
  bool first = true;
  auto add = [&](std::string_view name, std::string_view value) {
    if (!first) out += ',';
    first = false;
    out += name;
    out += "=\"";
    AppendEscaped(out, value, /*escape_quote=*/true);
    out += '"';
  };
  for (const auto& [name, value] : labels) add(name, value);
  if (!extra_name.empty()) add(extra_name, extra_value);
  out += '}';
  return out;
}

}  // namespace

// ---- Histogram ----

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    HC_ASSERT(std::isfinite(bounds_[i]));
    if (i > 0) HC_ASSERT_LT(bounds_[i - 1], bounds_[i]);
  }
}

void Histogram::Observe(double v) {
  // The first bucket whose upper bound is >= v (bounds are inclusive); NaN lands in +Inf.
  const size_t index =
      static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  std::lock_guard lock(mu_);
  ++counts_[index];
  sum_ += v;
}

Histogram::Snapshot Histogram::Take() const {
  Snapshot s;
  s.bounds = bounds_;
  std::lock_guard lock(mu_);
  s.cumulative.reserve(counts_.size());
  uint64_t total = 0;
  for (uint64_t c : counts_) {
    total += c;
    s.cumulative.push_back(total);
  }
  s.count = total;
  s.sum = sum_;
  return s;
}

std::vector<double> LatencyBucketsSeconds() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

// ---- Registry ----

struct MetricsRegistry::Family {
  std::string name;
  std::string help;
  Type type;
  std::vector<double> bounds;  // histograms only
  struct Series {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  // Keyed by the rendered label set, which also orders the output.
  std::map<std::string, Series, std::less<>> series;
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

MetricsRegistry::Family& MetricsRegistry::GetFamily(std::string_view name, std::string_view help,
                                                    Type type, const Labels& labels) {
  HC_ASSERT_MSG(IsMetricName(name), "invalid metric name: " + std::string(name));
  for (const auto& [label, value] : labels) {
    HC_ASSERT_MSG(IsLabelName(label), "invalid label name: " + label);
    HC_ASSERT_MSG(type != Type::kHistogram || label != "le", "histograms reserve the label le");
  }
  auto it = families_.find(name);
  if (it == families_.end()) {
    auto family = std::make_unique<Family>();
    family->name = std::string(name);
    family->help = std::string(help);
    family->type = type;
    it = families_.emplace(std::string(name), std::move(family)).first;
  }
  HC_ASSERT_MSG(it->second->type == type,
                "metric family registered with two types: " + std::string(name));
  return *it->second;
}

Counter& MetricsRegistry::GetCounter(std::string_view name, std::string_view help,
                                     const Labels& labels) {
  std::lock_guard lock(mu_);
  Family& family = GetFamily(name, help, Type::kCounter, labels);
  auto [it, inserted] = family.series.try_emplace(RenderLabels(labels));
  if (inserted) {
    it->second.labels = labels;
    it->second.counter = std::make_unique<Counter>();
  }
  return *it->second.counter;
}

Gauge& MetricsRegistry::GetGauge(std::string_view name, std::string_view help,
                                 const Labels& labels) {
  std::lock_guard lock(mu_);
  Family& family = GetFamily(name, help, Type::kGauge, labels);
  auto [it, inserted] = family.series.try_emplace(RenderLabels(labels));
  if (inserted) {
    it->second.labels = labels;
    it->second.gauge = std::make_unique<Gauge>();
  }
  return *it->second.gauge;
}

Histogram& MetricsRegistry::GetHistogram(std::string_view name, std::string_view help,
                                         std::vector<double> bounds, const Labels& labels) {
  std::lock_guard lock(mu_);
  Family& family = GetFamily(name, help, Type::kHistogram, labels);
  if (family.series.empty()) {
    family.bounds = bounds;
  } else {
    HC_ASSERT_MSG(family.bounds == bounds,
                  "histogram family registered with two bucket layouts: " + std::string(name));
  }
  auto [it, inserted] = family.series.try_emplace(RenderLabels(labels));
  if (inserted) {
    it->second.labels = labels;
    it->second.histogram = std::make_unique<Histogram>(std::move(bounds));
  }
  return *it->second.histogram;
}

std::string MetricsRegistry::RenderPrometheus() const {
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& [name, family] : families_) {
    out += "# HELP ";
    out += name;
    out += ' ';
    AppendEscaped(out, family->help, /*escape_quote=*/false);
    out += "\n# TYPE ";
    out += name;
    switch (family->type) {
      case Type::kCounter:
        out += " counter\n";
        break;
      case Type::kGauge:
        out += " gauge\n";
        break;
      case Type::kHistogram:
        out += " histogram\n";
        break;
    }
    for (const auto& [label_text, series] : family->series) {
      switch (family->type) {
        case Type::kCounter:
          out += name;
          out += label_text;
          out += ' ';
          out += std::to_string(series.counter->Value());
          out += '\n';
          break;
        case Type::kGauge:
          out += name;
          out += label_text;
          out += ' ';
          AppendDouble(out, series.gauge->Value());
          out += '\n';
          break;
        case Type::kHistogram: {
          const Histogram::Snapshot snap = series.histogram->Take();
          for (size_t i = 0; i <= snap.bounds.size(); ++i) {
            std::string le;
            if (i < snap.bounds.size()) {
              AppendDouble(le, snap.bounds[i]);
            } else {
              le = "+Inf";
            }
            out += name;
            out += "_bucket";
            out += RenderLabels(series.labels, "le", le);
            out += ' ';
            out += std::to_string(snap.cumulative[i]);
            out += '\n';
          }
          out += name;
          out += "_sum";
          out += label_text;
          out += ' ';
          AppendDouble(out, snap.sum);
          out += "\n";
          out += name;
          out += "_count";
          out += label_text;
          out += ' ';
          out += std::to_string(snap.count);
          out += '\n';
          break;
        }
      }
    }
  }
  return out;
}

}  // namespace hc::api
