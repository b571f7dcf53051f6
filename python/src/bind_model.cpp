// Model, Trace and Generation for Python. Forward passes run with the GIL released.
#include <variant>

#include "attnscope/error.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"
#include "bindings.h"

namespace attnscope::python {

namespace {

py::dict config_dict(const ModelConfig& c) {
  return py::module_::import("json").attr("loads")(config_json(c)).cast<py::dict>();
}

// interventions arrive as a list of (target, callable_or_native, description).
std::vector<Intervention> to_interventions(const py::list& items) {
  std::vector<Intervention> out;
  for (const auto& item : items) {
    auto tup = item.cast<py::tuple>();
    if (tup.size() != 3) throw Error(ErrorKind::InvalidArgument, "intervention must be (target, fn, description)");
    Intervention iv;
    iv.target = tup[0].cast<std::string>();
    iv.description = tup[2].cast<std::string>();
    py::object fn = tup[1];
    if (py::isinstance<NativeIntervention>(fn)) {
      const auto& native = fn.cast<const NativeIntervention&>();
      iv.fn = native.fn;
      if (iv.description.empty()) iv.description = native.description;
    } else if (PyCallable_Check(fn.ptr())) {
      iv.fn = python_intervention(fn);
    } else {
      throw Error(ErrorKind::InvalidArgument,
                  "intervention for " + iv.target + " is neither callable nor a built-in intervention");
    }
    out.push_back(std::move(iv));
  }
  return out;
}

RunOptions run_options(const std::vector<std::string>& capture, const std::vector<int>& layers,
                       const py::list& interventions, bool return_logits, bool add_bos) {
  RunOptions o;
  o.capture = capture;
  o.layers = layers;
  o.interventions = to_interventions(interventions);
  o.return_logits = return_logits;
  o.add_bos = add_bos;
  return o;
}

using Input = std::variant<std::string, std::vector<int32_t>, std::vector<std::vector<int32_t>>>;

Trace run_model(const Model& model, const Input& input, const RunOptions& options) {
  // Interventions written in Python take the GIL back only while they run.
  py::gil_scoped_release release;
  if (auto* text = std::get_if<std::string>(&input)) return model.run(*text, options);
  if (auto* ids = std::get_if<std::vector<int32_t>>(&input)) return model.run(*ids, options);
  return model.run_batch(std::get<std::vector<std::vector<int32_t>>>(input), options);
}

// The model's tokenizer, after checking that `id` is in its vocabulary (InvalidArgument naming it).
const Tokenizer& vocab_token(const Model& mdl, int32_t id) {
  const Tokenizer& tok = mdl.tokenizer();
  if (id < 0 || id >= tok.vocab_size())
    throw Error(ErrorKind::InvalidArgument, "token id " + std::to_string(id) + " is outside the vocabulary (size " +
                                                std::to_string(tok.vocab_size()) + ")");
  return tok;
}

}  // namespace

void bind_model(py::module_& m) {
  py::class_<NativeIntervention>(m, "NativeIntervention")
      .def_readonly("description", &NativeIntervention::description)
      .def("__repr__", [](const NativeIntervention& n) { return "<attnscope intervention " + n.description + ">"; });

  py::class_<Trace>(m, "Trace")
      .def_readonly("tokens", &Trace::tokens)
      .def_readonly("str_tokens", &Trace::str_tokens)
      .def_property_readonly("logits",
                             [](const Trace& t) -> py::object {
                               if (t.logits.numel() == 0) return py::none();
                               return to_numpy(t.logits);
                             })
      .def("has", &Trace::has, py::arg("name"))
      .def(
          "get", [](const Trace& t, const std::string& name) { return to_numpy(t.at(name)); }, py::arg("name"))
      .def("names",
           [](const Trace& t) {
             std::vector<std::string> names;
             for (const auto& [k, v] : t.captured()) names.push_back(k);
             return names;
           })
      .def("captured",
           [](const Trace& t) {
             py::dict d;
             for (const auto& [k, v] : t.captured()) d[py::str(k)] = to_numpy(v);
             return d;
           })
      .def("attention_patterns",
           [](const Trace& t) {
             py::dict d;
             for (const auto& [layer, v] : t.attention_patterns()) d[py::int_(layer)] = to_numpy(v);
             return d;
           })
      .def_property_readonly("padding_side",
                             [](const Trace& t) { return t.padding == Padding::Left ? "left" : "right"; })
      .def_property_readonly("padded", &Trace::padded)
      // int32 [B, T]: 1 at real tokens, 0 at pads.
      .def_property_readonly("attention_mask",
                             [](const Trace& t) {
                               const auto mask = t.attention_mask();
                               const auto B = static_cast<py::ssize_t>(mask.size()),
                                          T = static_cast<py::ssize_t>(t.padded_length());
                               py::array_t<int32_t> a({B, T});
                               for (py::ssize_t b = 0; b < B; ++b)
                                 std::copy(mask[static_cast<size_t>(b)].begin(), mask[static_cast<size_t>(b)].end(),
                                           a.mutable_data() + b * T);
                               return a;
                             })
      .def("row", &Trace::row, py::arg("b"));

  py::class_<Model>(m, "Model")
      .def_static(
          "load",
          [](const std::string& path, const std::string& tokenizer, int threads, const std::string& dtype, bool mmap) {
            LoadOptions o;
            o.tokenizer = tokenizer;
            o.threads = threads;
            o.dtype = dtype;
            o.mmap = mmap;
            py::gil_scoped_release release;
            return Model::load(path, o);
          },
          py::arg("path_or_name"), py::arg("tokenizer") = "", py::arg("threads") = 0, py::arg("dtype") = "auto",
          py::arg("mmap") = false)
      .def_property_readonly("config", [](const Model& mdl) { return config_dict(mdl.config()); })
      .def_property_readonly("dtype", &Model::dtype)
      .def_property_readonly("source", &Model::source)
      .def_property_readonly("threads", &Model::threads)
      .def_property_readonly("has_tokenizer", &Model::has_tokenizer)
      .def("hook_names", &Model::hook_names)
      .def(
          "encode", [](const Model& mdl, const std::string& text, bool add_bos) { return mdl.encode(text, add_bos); },
          py::arg("text"), py::arg("add_bos") = true)
      // TransformerLens' to_single_token: InvalidArgumentError (ValueError) naming the tokens and
      // the single-token candidates unless the text is exactly one token.
      .def("to_single_token", &Model::to_single_token, py::arg("text"))
      // Python strings must be valid UTF-8: bytes that are not (half a character) become U+FFFD
      // as in Hugging Face decoding; decode_bytes gives the exact bytes.
      .def(
          "decode",
          [](const Model& mdl, const std::vector<int32_t>& ids) { return valid_utf8(mdl.tokenizer().decode(ids)); },
          py::arg("ids"))
      .def(
          "decode_bytes",
          [](const Model& mdl, const std::vector<int32_t>& ids) { return py::bytes(mdl.tokenizer().decode(ids)); },
          py::arg("ids"))
      .def(
          "token_to_str", [](const Model& mdl, int32_t id) { return vocab_token(mdl, id).token_to_str(id); },
          py::arg("id"))
      .def(
          "token_text", [](const Model& mdl, int32_t id) { return valid_utf8(vocab_token(mdl, id).token_text(id)); },
          py::arg("id"))
      .def(
          "to_str_tokens",
          [](const Model& mdl, const std::vector<int32_t>& ids) {
            const auto& tok = mdl.tokenizer();
            for (int32_t id : ids)
              if (id < 0 || id >= tok.vocab_size())
                throw Error(ErrorKind::InvalidArgument, "token id " + std::to_string(id) +
                                                            " is outside the vocabulary (size " +
                                                            std::to_string(tok.vocab_size()) + ")");
            return tok.to_str_tokens(ids);
          },
          py::arg("ids"))
      .def_property_readonly(
          "vocab_size",
          [](const Model& mdl) { return mdl.has_tokenizer() ? mdl.tokenizer().vocab_size() : mdl.config().n_vocab; })
      .def_property_readonly("bos_id",
                             [](const Model& mdl) { return mdl.has_tokenizer() ? mdl.tokenizer().bos_id() : -1; })
      .def_property_readonly("eos_id",
                             [](const Model& mdl) { return mdl.has_tokenizer() ? mdl.tokenizer().eos_id() : -1; })
      .def_property_readonly("pad_id",
                             [](const Model& mdl) { return mdl.has_tokenizer() ? mdl.tokenizer().pad_id() : -1; })
      .def("token_type", [](const Model& mdl, int32_t id) { return static_cast<int>(mdl.tokenizer().token_type(id)); })
      .def(
          "run",
          [](const Model& mdl, const Input& input, const std::vector<std::string>& capture,
             const std::vector<int>& layers, const py::list& interventions, bool return_logits, bool add_bos,
             const std::string& padding_side) {
            RunOptions o = run_options(capture, layers, interventions, return_logits, add_bos);
            o.padding = padding_from_name(padding_side);
            return run_model(mdl, input, o);
          },
          py::arg("input"), py::arg("capture") = std::vector<std::string>{}, py::arg("layers") = std::vector<int>{},
          py::arg("interventions") = py::list(), py::arg("return_logits") = true, py::arg("add_bos") = true,
          py::arg("padding_side") = "right")
      .def(
          "generate",
          [](const Model& mdl, const std::variant<std::string, std::vector<int32_t>>& prompt, int max_tokens,
             const std::vector<std::string>& capture, const std::vector<int>& layers, bool stop_at_eos,
             double temperature, int top_k, double top_p, uint64_t seed) {
            GenerateOptions o;
            o.temperature = temperature;
            o.top_k = top_k;
            o.top_p = top_p;
            o.seed = seed;
            o.max_tokens = max_tokens;
            o.capture = capture;
            o.layers = layers;
            o.stop_at_eos = stop_at_eos;
            Generation g;
            {
              py::gil_scoped_release release;
              if (auto* text = std::get_if<std::string>(&prompt))
                g = mdl.generate(*text, o);
              else
                g = mdl.generate(std::get<std::vector<int32_t>>(prompt), o);
            }
            // The text is for reading (U+FFFD where the bytes are not UTF-8); the ids are the result.
            return py::make_tuple(g.prompt_tokens, g.new_tokens, valid_utf8(g.text), std::move(g.trace));
          },
          py::arg("prompt"), py::arg("max_tokens") = 64, py::arg("capture") = std::vector<std::string>{},
          py::arg("layers") = std::vector<int>{}, py::arg("stop_at_eos") = true, py::arg("temperature") = 0.0,
          py::arg("top_k") = 0, py::arg("top_p") = 1.0, py::arg("seed") = 0);

  // The default for models loaded with threads=0 (read at each run); a model's own count wins.
  m.def("set_num_threads", &set_num_threads, py::arg("n"));
  m.def(
      "canonical_hook_name",
      [](const std::string& name) -> py::object {
        auto c = canonical_hook_name(name);
        if (!c) return py::none();
        return py::str(*c);
      },
      py::arg("name"));
  m.def("hook_glob_match", &hook_glob_match, py::arg("pattern"), py::arg("name"));
  // The hook table (attnscope/hook_points.h): Python builds and parses names through it.
  py::enum_<HookPoint> point(m, "HookPoint");
  for (int i = 0; i < kHookPointCount; ++i) {
    const auto p = static_cast<HookPoint>(i);
    point.value(hook_suffix(p), p);  // e.g. HookPoint.__members__["attn.hook_pattern"]
  }
  m.def(
      "hook_name", [](HookPoint p, int layer) { return hook_name(p, layer); }, py::arg("point"), py::arg("layer") = -1);
  m.def("hook_glob", &hook_glob, py::arg("point"));
  m.def("hook_in_block", &hook_in_block, py::arg("point"));
  m.def(
      "parse_hook_name",
      [](const std::string& name) -> py::object {
        auto r = parse_hook_name(name);
        if (!r) return py::none();
        return py::make_tuple(r->point, r->layer);
      },
      py::arg("canonical"));
}

}  // namespace attnscope::python
