// Corpus scans for Python: reading corpora, planning, running batches, exact statistics, and
// the whole resumable scan. attnscope.scan and attnscope.distributed.scan build on these.
#include <Python.h>

#include <cmath>
#include <memory>

#include "attnscope/error.h"
#include "attnscope/model.h"
#include "attnscope/scan.h"
#include "bindings.h"

namespace attnscope::python {

namespace {

BadInputPolicy to_policy(const std::string& s) {
  if (s == "refuse") return BadInputPolicy::Refuse;
  if (s == "skip") return BadInputPolicy::Skip;
  throw Error(ErrorKind::InvalidArgument, "on_bad_input must be 'refuse' or 'skip', not '" + s + "'");
}

// A Python pattern function usable from threads without the GIL: it takes the GIL to run, and
// its holder takes it to be destroyed.
PatternFn threaded_pattern_fn(py::object fn) {
  std::shared_ptr<py::object> held(new py::object(std::move(fn)), [](py::object* o) {
    py::gil_scoped_acquire gil;
    delete o;
  });
  return [held](const Tensor& pattern) {
    py::gil_scoped_acquire gil;
    return (*held)(to_numpy(pattern.clone())).cast<double>();
  };
}

ScanOptions make_options(const std::vector<int>& layers, bool add_bos, const std::string& on_bad, int seeds, int tokens,
                         int repeats, uint64_t seed, bool ablation, int32_t target, const py::dict& custom,
                         int max_batch, const std::string& padding_side) {
  ScanOptions o;
  o.layers = layers;
  o.add_bos = add_bos;
  o.on_bad_input = to_policy(on_bad);
  o.induction_seeds = seeds;
  o.induction_tokens = tokens;
  o.induction_repeats = repeats;
  o.induction_seed = seed;
  o.ablation = ablation;
  o.ablation_target = target;
  o.max_batch = max_batch;
  o.padding = padding_from_name(padding_side);
  for (auto [name, fn] : custom)
    o.custom.push_back({name.cast<std::string>(), threaded_pattern_fn(py::reinterpret_borrow<py::object>(fn))});
  return o;
}

// rows -> (unit indices int64 [N], values float64 [N, metrics, layers, heads]).
py::tuple rows_to_numpy(const ScanPlan& plan, const std::vector<ScanRow>& rows) {
  const auto N = static_cast<py::ssize_t>(rows.size());
  const auto M = static_cast<py::ssize_t>(plan.metrics.size()), L = static_cast<py::ssize_t>(plan.layers.size()),
             H = static_cast<py::ssize_t>(plan.n_head);
  py::array_t<int64_t> units(N);
  py::array_t<double> values({N, M, L, H});
  double* v = values.mutable_data();
  for (py::ssize_t i = 0; i < N; ++i) {
    units.mutable_data()[i] = rows[static_cast<size_t>(i)].unit;
    std::copy(rows[static_cast<size_t>(i)].values.begin(), rows[static_cast<size_t>(i)].values.end(),
              v + i * M * L * H);
  }
  return py::make_tuple(units, values);
}

std::vector<ScanRow> rows_from_numpy(const ScanPlan& plan, const py::array_t<int64_t>& units,
                                     const py::array_t<double, py::array::c_style | py::array::forcecast>& values) {
  const size_t n = static_cast<size_t>(plan.values_per_unit());
  if (values.ndim() < 1 || values.shape(0) != units.size() || static_cast<size_t>(values.size()) != n * units.size())
    throw Error(ErrorKind::InvalidArgument, "ScanStats.add: values must be [len(units), metrics, layers, heads]");
  std::vector<ScanRow> rows(static_cast<size_t>(units.size()));
  for (size_t i = 0; i < rows.size(); ++i) {
    rows[i].unit = units.at(static_cast<py::ssize_t>(i));
    rows[i].values.assign(values.data() + i * n, values.data() + (i + 1) * n);
  }
  return rows;
}

py::list summary_records(const std::vector<HeadSummary>& summary) {
  py::list out;
  for (const auto& s : summary)
    out.append(py::make_tuple(s.metric, s.layer, s.head, s.count, s.mean, s.std, s.ci_low, s.ci_high));
  return out;
}

// A plan as plain Python values (pickling, so Dask can ship shards to workers).
py::tuple plan_state(const ScanPlan& p) {
  py::list units;
  for (const auto& u : p.units)
    units.append(py::make_tuple(u.index, u.kind == ScanUnit::Kind::Prompt ? 0 : 1, u.prompt, u.seed, u.ids));
  return py::make_tuple(p.metrics, p.layers, p.n_head, units, p.batches, p.fingerprint);
}

ScanPlan plan_from_state(const py::tuple& t) {
  if (t.size() != 6) throw Error(ErrorKind::Format, "ScanPlan: bad pickled state");
  ScanPlan p;
  p.metrics = t[0].cast<std::vector<std::string>>();
  p.layers = t[1].cast<std::vector<int>>();
  p.n_head = t[2].cast<int>();
  for (auto item : t[3].cast<py::list>()) {
    auto u = item.cast<py::tuple>();
    ScanUnit su;
    su.index = u[0].cast<int64_t>();
    su.kind = u[1].cast<int>() == 0 ? ScanUnit::Kind::Prompt : ScanUnit::Kind::RandomInduction;
    su.prompt = u[2].cast<int64_t>();
    su.seed = u[3].cast<uint64_t>();
    su.ids = u[4].cast<std::vector<int32_t>>();
    p.units.push_back(std::move(su));
  }
  p.batches = t[4].cast<std::vector<std::vector<int64_t>>>();
  p.fingerprint = t[5].cast<std::string>();
  return p;
}

// The plan restricted to some of its batches: their units only (keeping their global index), so
// a worker gets just what it runs.
ScanPlan shard_plan(const ScanPlan& p, const std::vector<int64_t>& batch_ids) {
  ScanPlan s;
  s.metrics = p.metrics;
  s.layers = p.layers;
  s.n_head = p.n_head;
  s.fingerprint = p.fingerprint;
  for (int64_t b : batch_ids) {
    if (b < 0 || b >= static_cast<int64_t>(p.batches.size()))
      throw Error(ErrorKind::InvalidArgument, "ScanPlan.shard: batch " + std::to_string(b) + " is not in the plan");
    std::vector<int64_t> local;
    for (int64_t u : p.batches[static_cast<size_t>(b)]) {
      local.push_back(static_cast<int64_t>(s.units.size()));
      s.units.push_back(p.units[static_cast<size_t>(u)]);
    }
    s.batches.push_back(std::move(local));
  }
  return s;
}

}  // namespace

void bind_scan(py::module_& m) {
  py::class_<Corpus>(m, "Corpus")
      .def_property_readonly("prompts",
                             [](const Corpus& c) {
                               py::list out;
                               for (const auto& p : c.prompts)
                                 out.append(py::make_tuple(p.index, p.source, p.line, p.text));
                               return out;
                             })
      .def_property_readonly("skipped",
                             [](const Corpus& c) {
                               py::list out;
                               for (const auto& s : c.skipped) out.append(py::make_tuple(s.source, s.line, s.reason));
                               return out;
                             })
      .def("__len__", [](const Corpus& c) { return c.prompts.size(); });
  m.def(
      "read_corpus",
      [](const std::vector<std::string>& paths, const std::string& on_bad) {
        return read_corpus(paths, to_policy(on_bad));
      },
      py::arg("paths"), py::arg("on_bad_input") = "refuse");
  m.def(
      "corpus_from_texts",
      [](const std::vector<std::string>& texts, const std::string& on_bad) {
        return corpus_from_texts(texts, to_policy(on_bad));
      },
      py::arg("texts"), py::arg("on_bad_input") = "refuse");

  py::class_<ScanOptions>(m, "ScanOptions")
      .def(py::init(&make_options), py::arg("layers") = std::vector<int>{}, py::arg("add_bos") = true,
           py::arg("on_bad_input") = "refuse", py::arg("induction_seeds") = 0, py::arg("induction_tokens") = 50,
           py::arg("induction_repeats") = 2, py::arg("induction_seed") = 42, py::arg("ablation") = false,
           py::arg("ablation_target") = -1, py::arg("custom") = py::dict(), py::arg("max_batch") = 16,
           py::arg("padding_side") = "right");

  py::class_<ScanPlan>(m, "ScanPlan")
      .def_readonly("metrics", &ScanPlan::metrics)
      .def_readonly("layers", &ScanPlan::layers)
      .def_readonly("n_head", &ScanPlan::n_head)
      .def_readonly("batches", &ScanPlan::batches)
      .def_readonly("fingerprint", &ScanPlan::fingerprint)
      .def_property_readonly("corpus", [](const ScanPlan& p) { return p.corpus; })
      // (index, kind 'prompt'|'random_induction', corpus prompt index or -1, seed, n_tokens) per unit.
      .def_property_readonly(
          "units",
          [](const ScanPlan& p) {
            py::list out;
            for (const auto& u : p.units)
              out.append(py::make_tuple(u.index, u.kind == ScanUnit::Kind::Prompt ? "prompt" : "random_induction",
                                        u.prompt, u.seed, u.ids.size()));
            return out;
          })
      .def("shard", &shard_plan, py::arg("batches"))
      .def(py::pickle([](const ScanPlan& p) { return plan_state(p); },
                      [](const py::tuple& t) { return plan_from_state(t); }));

  m.def(
      "plan_scan",
      [](const Model& model, const Corpus& corpus, const ScanOptions& o) { return plan_scan(model, corpus, o); },
      py::arg("model"), py::arg("corpus"), py::arg("options"));

  // Runs batch `batch` of `plan` (an index into plan.batches): (units, values) as rows_to_numpy.
  m.def(
      "scan_batch",
      [](const Model& model, const ScanPlan& plan, int64_t batch, const ScanOptions& o) {
        if (batch < 0 || batch >= static_cast<int64_t>(plan.batches.size()))
          throw Error(ErrorKind::InvalidArgument, "scan_batch: batch " + std::to_string(batch) + " is not in the plan");
        std::vector<ScanRow> rows;
        {
          py::gil_scoped_release release;
          rows = scan_batch(model, plan, plan.batches[static_cast<size_t>(batch)], o);
        }
        return rows_to_numpy(plan, rows);
      },
      py::arg("model"), py::arg("plan"), py::arg("batch"), py::arg("options"));

  py::class_<ScanStats>(m, "ScanStats")
      .def(py::init<const ScanPlan&>(), py::arg("plan"))
      .def(
          "add",
          [](ScanStats& s, const ScanPlan& plan, const py::array_t<int64_t>& units,
             const py::array_t<double, py::array::c_style | py::array::forcecast>& values) {
            for (const auto& r : rows_from_numpy(plan, units, values)) s.add(r);
          },
          py::arg("plan"), py::arg("units"), py::arg("values"))
      .def("merge", &ScanStats::merge, py::arg("other"))
      // (metric, layer, head, count, mean, std, ci_low, ci_high) per head, metric-major.
      .def("summary", [](const ScanStats& s) { return summary_records(s.summary()); })
      .def(py::pickle([](const ScanStats& s) { return s.to_json(); },
                      [](const std::string& j) { return ScanStats::from_json(j); }));

  py::class_<ScanResult>(m, "ScanResult")
      .def_readonly("plan", &ScanResult::plan)
      .def_readonly("resumed_units", &ScanResult::resumed_units)
      .def_readonly("interrupted", &ScanResult::interrupted)
      .def_readonly("files", &ScanResult::files)
      .def_property_readonly("rows", [](const ScanResult& r) { return rows_to_numpy(r.plan, r.rows); })
      .def_property_readonly("summary", [](const ScanResult& r) { return summary_records(r.summary); })
      .def("summary_json", [](const ScanResult& r) { return scan_summary_json(r); });

  // The whole scan (see attnscope/scan.h run_scan). mode: "new", "resume" or "force". progress:
  // called as progress(done, total, seconds, resumed) after each batch. Ctrl-C stops after the
  // batch in flight (its rows are journaled) and raises KeyboardInterrupt.
  m.def(
      "run_scan",
      [](const Model& model, const ScanPlan& plan, const ScanOptions& o, const std::string& dir,
         const std::string& mode, py::object progress) {
        OutputMode om = OutputMode::New;
        if (mode == "resume")
          om = OutputMode::Resume;
        else if (mode == "force")
          om = OutputMode::Force;
        else if (mode != "new")
          throw Error(ErrorKind::InvalidArgument, "mode must be 'new', 'resume' or 'force'");
        bool signalled = false;
        std::function<void(const ScanProgress&)> report;
        if (!progress.is_none())
          report = [&progress](const ScanProgress& p) {
            py::gil_scoped_acquire gil;
            progress(p.done, p.total, p.seconds, p.resumed);
          };
        auto stop = [&signalled]() {
          py::gil_scoped_acquire gil;
          if (PyErr_CheckSignals() != 0) {
            PyErr_Clear();
            signalled = true;
          }
          return signalled;
        };
        ScanResult r;
        {
          py::gil_scoped_release release;
          r = run_scan(model, plan, o, dir, om, report, stop);
        }
        if (signalled) {
          PyErr_SetNone(PyExc_KeyboardInterrupt);
          throw py::error_already_set();
        }
        return r;
      },
      py::arg("model"), py::arg("plan"), py::arg("options"), py::arg("output_dir") = "", py::arg("mode") = "new",
      py::arg("progress") = py::none());
}

}  // namespace attnscope::python
