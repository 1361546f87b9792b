// lmgc serialize / deserialize / tokenize / tokens: the paper's text forms of tensors and
// the language model's tokens of them.
#include "cli-args.hpp"
#include "cli-commands.hpp"
#include "lmgc/experimental.hpp"

#include <cstdio>
#include <sstream>

namespace lmgc::cli {
namespace {

using experimental::serialize_params;

// The serialization options every command here shares.
struct serial_options {
    std::string mode = "hex-space";
    int bytes_per_group = 4;
    std::string byte_order = "little";
    std::uint64_t chunk_bytes = 512;
    bool unchunked = false;
    std::string format = "auto";

    void add(arg_parser& p, bool mode_all) {
        p.option(
             "-m,--mode", "M",
             std::string(
                 "iso, hex-none, hex-space, hex-comma, hex-comma+space, hex-semicolon, hex-0x") +
                 (mode_all ? ", or all (default all)" : " (default hex-space)"),
             &mode)
            .option("--bytes-per-group", "N", "bytes per group: 1, 2, 4 or 8 (default 4)",
                    &bytes_per_group)
            .option("--byte-order", "O", "little (memory order, the paper) or big (sign first)",
                    &byte_order)
            .option("--chunk-bytes", "N", "bytes per chunk, each serialized alone (default 512)",
                    &chunk_bytes)
            .flag("--unchunked", "one chunk per stream", &unchunked)
            .option("--format", "F", "input format: " + input_format_names() + " (default auto)",
                    &format);
    }
    serialize_params params() const {
        auto p = experimental::default_serialize_params();
        p.mode = mode;
        if (bytes_per_group < 1) throw usage_error("--bytes-per-group must be 1, 2, 4 or 8");
        p.bytes_per_group = static_cast<unsigned>(bytes_per_group);
        if (byte_order != "little" && byte_order != "big")
            throw usage_error("--byte-order must be little or big, not '" + byte_order + "'");
        p.big_endian = byte_order == "big";
        p.chunk_bytes = unchunked ? 0 : chunk_bytes;
        p.format = parse_format_option(format);
        return p;
    }
};

void write_output(const std::string& path, std::string_view data, bool force) {
    if (path.empty() || path == "-") {
        std::fwrite(data.data(), 1, data.size(), stdout);
        return;
    }
    write_file_atomic(path, {reinterpret_cast<const std::uint8_t*>(data.data()), data.size()},
                      force);
}

experimental::tokenizer load_tokenizer(const std::string& model, const std::string& file) {
    if (!file.empty()) return experimental::tokenizer::load(file);
    if (model.empty()) throw usage_error("give the model folder (--model DIR) or --tokenizer FILE");
    return experimental::tokenizer::load(model);
}

std::string join_ids(const std::vector<int>& ids) {
    std::string out;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (i) out += ' ';
        out += std::to_string(ids[i]);
    }
    return out;
}

} // namespace

int cmd_serialize(const args_t& args) {
    std::string in, out;
    bool force = false;
    serial_options so;
    arg_parser p("serialize",
                 "Writes the tensors of a file as the paper's text: one stream per element "
                 "type, cut into chunks, one chunk per line.");
    p.positional(
         "IN",
         "tensor file: .npy, .safetensors, torch.save (.pt), or raw float32 with --format raw", &in)
        .option("-o,--output", "OUT", "output text file (default: standard output)", &out)
        .flag("-f,--force", "overwrite the output if it exists", &force);
    so.add(p, false);
    p.epilog("\nExample:\n  lmgc serialize grad.npy --mode hex-space -o grad.txt\n"
             "  lmgc deserialize grad.txt --like grad.npy -o back.npy   # back.npy == grad.npy\n");
    p.parse(args);
    const auto text = experimental::serialize_tensors(read_file(in), so.params());
    write_output(out, text, force);
    return 0;
}

int cmd_deserialize(const args_t& args) {
    std::string in, like, out;
    bool force = false;
    serial_options so;
    arg_parser p("deserialize",
                 "Parses the text of 'lmgc serialize' back into the tensor file, bit for bit.");
    p.positional("IN", "text written by 'lmgc serialize'", &in)
        .option("--like", "FILE", "the original tensor file (or one with the same tensor layout)",
                &like)
        .option("-o,--output", "OUT", "output tensor file", &out)
        .flag("-f,--force", "overwrite the output if it exists", &force);
    so.add(p, false);
    p.epilog("\nThe serialization options must be those given to 'lmgc serialize'.\n");
    p.parse(args);
    if (like.empty()) throw usage_error("--like FILE is required (it gives the tensor layout)");
    if (out.empty()) throw usage_error("-o OUT is required");
    const auto text = read_file(in);
    const auto data = experimental::deserialize_tensors(
        {reinterpret_cast<const char*>(text.data()), text.size()}, read_file(like), so.params());
    write_file_atomic(out, data, force);
    return 0;
}

int cmd_tokenize(const args_t& args) {
    std::string model, tok_file, text, file;
    bool pieces = false;
    arg_parser p("tokenize",
                 "Prints the token ids of a text under a model's SentencePiece tokenizer, as "
                 "spm_encode --output_format=id does (no BOS).");
    p.option("--model", "DIR", "model folder holding tokenizer.model", &model)
        .option("--tokenizer", "FILE", "the tokenizer.model file itself", &tok_file)
        .option("--text", "STR", "text to tokenize (one line of ids)", &text)
        .option("--file", "F", "file to tokenize, line by line (one line of ids per line)", &file)
        .flag("--pieces", "print the pieces instead of ids", &pieces);
    p.parse(args);
    if (p.given("--text") == p.given("--file"))
        throw usage_error("give exactly one of --text and --file");
    const auto tok = load_tokenizer(model, tok_file);
    auto emit = [&](std::string_view s) {
        std::string line;
        if (pieces) {
            for (const auto& w : tok.encode_pieces(s)) {
                if (!line.empty()) line += ' ';
                line += w;
            }
        } else {
            line = join_ids(tok.encode(s));
        }
        line += '\n';
        std::fwrite(line.data(), 1, line.size(), stdout);
    };
    if (p.given("--text")) {
        emit(text);
    } else {
        const auto data = read_file(file);
        std::string_view all(reinterpret_cast<const char*>(data.data()), data.size());
        while (!all.empty()) {
            const auto nl = all.find('\n');
            emit(all.substr(0, nl));
            if (nl == std::string_view::npos) break;
            all.remove_prefix(nl + 1);
        }
    }
    return 0;
}

int cmd_tokens(const args_t& args) {
    std::string in, model, tok_file, dump, out;
    int context = 2048, threads = 0;
    bool force = false;
    serial_options so;
    so.mode = "all";
    arg_parser p("tokens", "Counts characters and tokens of a tensor file's serializations under a "
                           "model's tokenizer, and checks that the tokens decode back exactly.");
    p.positional("IN", "tensor file", &in)
        .option("--model", "DIR", "model folder holding tokenizer.model", &model)
        .option("--tokenizer", "FILE", "the tokenizer.model file itself", &tok_file)
        .option("--context", "N", "tokens per window, BOS included (default 2048)", &context)
        .option("-t,--threads", "N", threads_help(), &threads)
        .option("--dump", "SCHEME",
                "instead of counting, write the token ids the lm codec codes (canonical or "
                "symbol; one --mode) to -o as int32 little-endian",
                &dump)
        .option("-o,--output", "OUT", "output file of --dump", &out)
        .flag("-f,--force", "overwrite the output if it exists", &force);
    so.add(p, true);
    p.epilog(
        "\nColumns: tokens are the paper's (the tokenizer on each chunk, dummy prefix dropped);\n"
        "'vs iso' is iso's token count over this mode's; symbol tokens are one per character;\n"
        "'exact' says both token streams decoded back to the same bytes.\n"
        "--dump writes the streams' ids one after another, no BOS (e.g. to train a model):\n"
        "  lmgc tokens grad.npy --model DIR --mode hex-space --dump symbol -o grad.ids\n");
    p.parse(args);
    if (context < 2) throw usage_error("--context must be at least 2");
    check_threads_option(threads);
    if (p.given("--dump")) {
        if (so.mode == "all") throw usage_error("--dump needs one --mode");
        if (out.empty()) throw usage_error("--dump needs -o OUT");
    } else if (!out.empty()) {
        throw usage_error("-o is the output of --dump");
    }
    const auto tok = load_tokenizer(model, tok_file);
    if (p.given("--dump")) {
        const auto streams =
            experimental::stream_tokens(read_file(in), tok, so.params(), dump, threads);
        std::vector<std::uint8_t> b;
        for (const auto& ids : streams)
            for (const int id : ids)
                for (int k = 0; k < 4; ++k)
                    b.push_back(static_cast<std::uint8_t>(static_cast<std::uint32_t>(id) >> 8 * k));
        write_file_atomic(out, b, force);
        std::printf("%s: %zu stream(s), %zu tokens (%s, %s) -> %s\n", in.c_str(), streams.size(),
                    b.size() / 4, so.mode.c_str(), dump.c_str(), out.c_str());
        return 0;
    }
    std::vector<std::string> modes;
    if (so.mode == "all") {
        modes = experimental::serialize_modes();
    } else {
        modes = {so.mode};
        if (so.mode != "iso") modes.push_back("iso"); // the reference for efficiency
    }
    const auto params = so.params();
    const auto data = read_file(in);
    const auto rows = experimental::count_tokens(data, tok, params, modes,
                                                 static_cast<std::uint32_t>(context), threads);
    std::uint64_t iso_tokens = 0;
    for (const auto& r : rows)
        if (r.mode == "iso") iso_tokens = r.tokens;

    std::vector<std::vector<std::string>> table{{"mode", "characters", "tokens", "tokens/float",
                                                 "vs iso", "symbol tokens", "windows", "exact"}};
    std::vector<std::string> notes;
    for (const auto& r : rows) {
        if (so.mode != "all" && r.mode != so.mode) continue;
        const bool ok = r.note.empty();
        table.push_back(
            {r.mode, std::to_string(r.characters), ok ? std::to_string(r.tokens) : "n/a",
             ok ? format_fixed(r.tokens_per_element(), 3) : "n/a",
             ok && r.tokens && iso_tokens
                 ? format_fixed(static_cast<double>(iso_tokens) / static_cast<double>(r.tokens),
                                2) +
                       "x"
                 : "n/a",
             r.symbol_tokens ? std::to_string(r.symbol_tokens) : "-",
             ok ? std::to_string(r.windows) : "n/a", r.exact ? "yes" : "no"});
        if (!ok) notes.push_back(r.mode + ": " + r.note);
    }
    std::printf("%s: %llu elements, %d-byte groups, %s-endian, %s; windows of %d tokens\n\n",
                in.c_str(), static_cast<unsigned long long>(rows.empty() ? 0 : rows[0].elements),
                so.bytes_per_group, so.byte_order.c_str(),
                so.unchunked ? "unchunked"
                             : (std::to_string(so.chunk_bytes) + "-byte chunks").c_str(),
                context);
    std::fputs(markdown_table(table).c_str(), stdout);
    for (const auto& n : notes) std::printf("\n%s\n", n.c_str());
    return 0;
}

} // namespace lmgc::cli
