// torch.save reader (the zip format of PyTorch >= 1.6, also written by LibTorch's
// torch::pickle_save). Such a file is a zip archive that stores every tensor storage
// uncompressed as `<archive>/data/<key>` next to a pickle, `<archive>/data.pkl`, describing
// the saved object. This file parses the zip directory and runs a small, bounded pickle
// machine over data.pkl to learn each storage's element type and the name of the first
// tensor that uses it. The storages become tensor regions; the zip headers and the pickle
// stay in the skeleton, so decompression gives back the identical file. No LibTorch here:
// the parser is plain C++ so that it runs under the sanitizers and the fuzzers.
#include "io/io-tensor-file.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

namespace lmgc::detail {
namespace {

// ---------------------------------------------------------------------------------------
// Zip directory

struct zip_entry {
    std::string name;
    std::uint16_t flags = 0;
    std::uint16_t method = 0;
    std::uint64_t compressed_size = 0;
    std::uint64_t size = 0;
    std::uint64_t data_offset = 0; // of the entry's bytes in the file
};

constexpr std::uint32_t sig_local = 0x04034b50;
constexpr std::uint32_t sig_central = 0x02014b50;
constexpr std::uint32_t sig_eocd = 0x06054b50;
constexpr std::uint32_t sig_zip64_eocd = 0x06064b50;
constexpr std::uint32_t sig_zip64_locator = 0x07064b50;

// Bounds-checked little-endian reads at an absolute offset.
struct zip_view {
    byte_span file;
    void need(std::uint64_t at, std::uint64_t n, const char* what) const {
        LMGC_CHECK(at <= file.size() && n <= file.size() - at, errc::bad_input, "torch: zip ", what,
                   " runs past the end of the file");
    }
    template <typename T> T get(std::uint64_t at, const char* what) const {
        need(at, sizeof(T), what);
        return load_le<T>(file.data() + at);
    }
};

// Reads the zip64 "extended information" extra field (id 1): the 64-bit values of the
// fields that are 0xFFFFFFFF (0xFFFF for the disk) in the fixed header, in this order.
void read_zip64_extra(byte_span extra, std::uint64_t& size, std::uint64_t& csize,
                      std::uint64_t& offset, bool need_offset, const std::string& name) {
    const bool need_size = size == 0xFFFFFFFFu;
    const bool need_csize = csize == 0xFFFFFFFFu;
    if (!need_size && !need_csize && !need_offset) return;
    std::size_t pos = 0;
    while (pos + 4 <= extra.size()) {
        const auto id = load_le<std::uint16_t>(extra.data() + pos);
        const auto len = load_le<std::uint16_t>(extra.data() + pos + 2);
        pos += 4;
        LMGC_CHECK(len <= extra.size() - pos, errc::bad_input, "torch: zip entry '", name,
                   "' has a bad extra field");
        if (id == 0x0001) {
            byte_reader r(extra.subspan(pos, len), errc::bad_input,
                          "torch: zip64 extra field of '" + name + "' too short");
            if (need_size) size = r.le<std::uint64_t>();
            if (need_csize) csize = r.le<std::uint64_t>();
            if (need_offset) offset = r.le<std::uint64_t>();
            return;
        }
        pos += len;
    }
    LMGC_FAIL(errc::bad_input, "torch: zip entry '", name,
              "' needs zip64 sizes but has no zip64 extra field");
}

std::vector<zip_entry> read_zip(byte_span file) {
    const zip_view z{file};
    // The end-of-central-directory record is the last thing in the file, followed only by
    // a comment of at most 65535 bytes.
    LMGC_CHECK(file.size() >= 22, errc::bad_input, "torch: file too short for a zip archive");
    std::optional<std::uint64_t> eocd;
    const std::uint64_t lowest = file.size() >= 22 + 65535 ? file.size() - 22 - 65535 : 0;
    for (std::uint64_t at = file.size() - 22;; --at) {
        if (load_le<std::uint32_t>(file.data() + at) == sig_eocd &&
            at + 22 + load_le<std::uint16_t>(file.data() + at + 20) == file.size()) {
            eocd = at;
            break;
        }
        if (at == lowest) break;
    }
    LMGC_CHECK(eocd.has_value(), errc::bad_input,
               "torch: no zip end-of-central-directory record (truncated or not a zip file)");
    const std::uint64_t e = *eocd;
    std::uint64_t n_entries = z.get<std::uint16_t>(e + 10, "end record");
    std::uint64_t cd_size = z.get<std::uint32_t>(e + 12, "end record");
    std::uint64_t cd_offset = z.get<std::uint32_t>(e + 16, "end record");
    const auto disk = z.get<std::uint16_t>(e + 4, "end record");
    const auto cd_disk = z.get<std::uint16_t>(e + 6, "end record");
    LMGC_CHECK(disk == 0 && cd_disk == 0, errc::unsupported,
               "torch: multi-volume zip archives are not supported");
    std::uint64_t cd_end_limit = e; // the central directory ends before the end records
    if (n_entries == 0xFFFF || cd_size == 0xFFFFFFFFu || cd_offset == 0xFFFFFFFFu) {
        // Zip64: a locator just before the end record points at the zip64 end record.
        LMGC_CHECK(e >= 20 && z.get<std::uint32_t>(e - 20, "zip64 locator") == sig_zip64_locator,
                   errc::bad_input, "torch: zip64 archive without a zip64 locator");
        const auto rec = z.get<std::uint64_t>(e - 20 + 8, "zip64 locator");
        LMGC_CHECK(rec <= e - 20 && z.get<std::uint32_t>(rec, "zip64 end record") == sig_zip64_eocd,
                   errc::bad_input, "torch: bad zip64 end-of-central-directory record");
        LMGC_CHECK(z.get<std::uint32_t>(rec + 16, "zip64 end record") == 0 &&
                       z.get<std::uint32_t>(rec + 20, "zip64 end record") == 0,
                   errc::unsupported, "torch: multi-volume zip archives are not supported");
        n_entries = z.get<std::uint64_t>(rec + 32, "zip64 end record");
        cd_size = z.get<std::uint64_t>(rec + 40, "zip64 end record");
        cd_offset = z.get<std::uint64_t>(rec + 48, "zip64 end record");
        cd_end_limit = rec;
    }
    LMGC_CHECK(cd_offset <= cd_end_limit && cd_size <= cd_end_limit - cd_offset, errc::bad_input,
               "torch: zip central directory lies outside the file");
    // Each central entry takes at least 46 bytes: bounds the count before any allocation.
    LMGC_CHECK(n_entries <= cd_size / 46, errc::bad_input, "torch: zip claims ", n_entries,
               " entries in a central directory of ", cd_size, " bytes");

    std::vector<zip_entry> out;
    out.reserve(n_entries);
    std::set<std::string> names;
    std::uint64_t at = cd_offset;
    const std::uint64_t cd_end = cd_offset + cd_size;
    for (std::uint64_t i = 0; i < n_entries; ++i) {
        LMGC_CHECK(at <= cd_end && cd_end - at >= 46, errc::bad_input,
                   "torch: zip central directory is truncated");
        LMGC_CHECK(z.get<std::uint32_t>(at, "central directory") == sig_central, errc::bad_input,
                   "torch: bad zip central directory entry ", i);
        zip_entry ze;
        ze.flags = z.get<std::uint16_t>(at + 8, "central directory");
        ze.method = z.get<std::uint16_t>(at + 10, "central directory");
        ze.compressed_size = z.get<std::uint32_t>(at + 20, "central directory");
        ze.size = z.get<std::uint32_t>(at + 24, "central directory");
        const auto name_len = z.get<std::uint16_t>(at + 28, "central directory");
        const auto extra_len = z.get<std::uint16_t>(at + 30, "central directory");
        const auto comment_len = z.get<std::uint16_t>(at + 32, "central directory");
        const auto start_disk = z.get<std::uint16_t>(at + 34, "central directory");
        std::uint64_t local = z.get<std::uint32_t>(at + 42, "central directory");
        const std::uint64_t var_len = std::uint64_t{name_len} + extra_len + comment_len;
        LMGC_CHECK(var_len <= cd_end - at - 46, errc::bad_input,
                   "torch: zip central directory is truncated");
        const auto* base = file.data() + at + 46;
        ze.name.assign(reinterpret_cast<const char*>(base), name_len);
        read_zip64_extra(byte_span(base + name_len, extra_len), ze.size, ze.compressed_size, local,
                         local == 0xFFFFFFFFu, ze.name);
        LMGC_CHECK(start_disk == 0 || start_disk == 0xFFFF, errc::unsupported,
                   "torch: multi-volume zip archives are not supported");
        LMGC_CHECK(names.insert(ze.name).second, errc::bad_input, "torch: zip entry '", ze.name,
                   "' appears twice");
        LMGC_CHECK((ze.flags & 0x41) == 0, errc::unsupported, "torch: zip entry '", ze.name,
                   "' is encrypted");
        LMGC_CHECK(ze.method == 0, errc::unsupported, "torch: zip entry '", ze.name,
                   "' is compressed (method ", ze.method,
                   "); lmgc reads torch.save archives, which store entries uncompressed");
        LMGC_CHECK(ze.compressed_size == ze.size, errc::bad_input, "torch: stored zip entry '",
                   ze.name, "' has different compressed and uncompressed sizes");

        // The local header repeats the name; its extra field (torch's alignment padding)
        // may differ from the central one, so the data starts after the local copy.
        LMGC_CHECK(local < cd_offset, errc::bad_input, "torch: zip entry '", ze.name,
                   "' has a local header outside the archive data");
        LMGC_CHECK(z.get<std::uint32_t>(local, "local header") == sig_local, errc::bad_input,
                   "torch: bad local header of zip entry '", ze.name, "'");
        const auto lname = z.get<std::uint16_t>(local + 26, "local header");
        const auto lextra = z.get<std::uint16_t>(local + 28, "local header");
        z.need(local + 30, lname, "local header");
        LMGC_CHECK(lname == name_len &&
                       std::memcmp(file.data() + local + 30, ze.name.data(), name_len) == 0,
                   errc::bad_input, "torch: local and central names of zip entry '", ze.name,
                   "' differ");
        ze.data_offset = local + 30 + lname + lextra;
        LMGC_CHECK(ze.data_offset <= cd_offset && ze.size <= cd_offset - ze.data_offset,
                   errc::bad_input, "torch: data of zip entry '", ze.name,
                   "' runs past the archive data");
        out.push_back(std::move(ze));
        at += 46 + var_len;
    }
    return out;
}

// ---------------------------------------------------------------------------------------
// Pickle machine

// Values live in an arena and refer to each other by index, so memo references and cycles
// (a list that contains itself) need no ownership and cannot leak.
enum class pk : std::uint8_t {
    none,
    boolean,
    integer, // fits in int64
    bigint,  // a LONG that does not
    floating,
    string, // str or bytes
    tuple,
    list, // also sets
    dict,
    global, // "module name"
    object, // callable(args), then BUILD state, SETITEM items and APPEND items
    persid, // persistent id: the storage reference torch pickles
};

struct pnode {
    pk kind = pk::none;
    std::int64_t i = 0;
    std::string s;
    std::vector<std::uint32_t> items;   // tuple/list elements; dict: key, value, key, value...
    std::vector<std::uint32_t> appends; // object: APPEND targets
    std::uint32_t callable = 0, args = 0, state = 0; // object; args also persid's id
    bool has_state = false;
};

constexpr std::uint32_t max_nodes = 1u << 26;

class pickle_machine {
  public:
    explicit pickle_machine(byte_span data)
        : r_(data, errc::bad_input, "torch: data.pkl truncated") {}

    // Runs to STOP; returns the root value.
    std::uint32_t run() {
        for (;;) {
            const std::uint8_t op = r_.u8();
            switch (op) {
            case 0x80: { // PROTO
                const auto v = r_.u8();
                LMGC_CHECK(v <= 5, errc::unsupported, "torch: pickle protocol ", unsigned{v},
                           " is not supported");
                break;
            }
            case 0x95:
                r_.le<std::uint64_t>();
                break; // FRAME: a hint only
            case '.':  // STOP
                LMGC_CHECK(!stack_.empty(), errc::bad_input, "torch: pickle stops with no value");
                return stack_.back();
            case '(':
                marks_.push_back(stack_.size());
                break;
            case ')':
                push(make(pk::tuple));
                break;
            case ']':
                push(make(pk::list));
                break;
            case '}':
                push(make(pk::dict));
                break;
            case 0x8f:
                push(make(pk::list));
                break; // EMPTY_SET
            case 't':
                push(collect(pk::tuple));
                break;
            case 'l':
                push(collect(pk::list));
                break;
            case 0x91:
                push(collect(pk::list));
                break; // FROZENSET
            case 'd': {
                const auto d = collect(pk::dict);
                LMGC_CHECK(nodes_[d].items.size() % 2 == 0, errc::bad_input,
                           "torch: pickle DICT with an odd number of items");
                push(d);
                break;
            }
            case 0x85:
            case 0x86:
            case 0x87: { // TUPLE1..3
                const std::size_t n = op - 0x84u;
                need_stack(n);
                const auto t = make(pk::tuple);
                nodes_[t].items.assign(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
                stack_.resize(stack_.size() - n);
                push(t);
                break;
            }
            case 'a': { // APPEND
                need_stack(2);
                const auto v = pop();
                append_to(stack_.back(), {v});
                break;
            }
            case 'e':
            case 0x90: { // APPENDS, ADDITEMS
                auto items = pop_mark();
                need_stack(1);
                append_to(stack_.back(), items);
                break;
            }
            case 's': { // SETITEM
                need_stack(3);
                const auto v = pop();
                const auto k = pop();
                set_items(stack_.back(), {k, v});
                break;
            }
            case 'u': { // SETITEMS
                auto items = pop_mark();
                LMGC_CHECK(items.size() % 2 == 0, errc::bad_input,
                           "torch: pickle SETITEMS with an odd number of items");
                need_stack(1);
                set_items(stack_.back(), items);
                break;
            }
            case 'q':
                memo_put(r_.u8());
                break; // BINPUT
            case 'r':
                memo_put(r_.le<std::uint32_t>());
                break; // LONG_BINPUT
            case 0x94:
                memo_put(static_cast<std::uint32_t>(memo_.size()));
                break; // MEMOIZE
            case 'h':
                push(memo_get(r_.u8()));
                break; // BINGET
            case 'j':
                push(memo_get(r_.le<std::uint32_t>()));
                break; // LONG_BINGET
            case 'X':
                push_string(r_.le<std::uint32_t>());
                break; // BINUNICODE
            case 0x8c:
                push_string(r_.u8());
                break; // SHORT_BINUNICODE
            case 0x8d:
                push_string(r_.le<std::uint64_t>());
                break; // BINUNICODE8
            case 'T':
                push_string(r_.le<std::uint32_t>());
                break; // BINSTRING
            case 'U':
                push_string(r_.u8());
                break; // SHORT_BINSTRING
            case 'B':
                push_string(r_.le<std::uint32_t>());
                break; // BINBYTES
            case 'C':
                push_string(r_.u8());
                break; // SHORT_BINBYTES
            case 0x8e:
            case 0x96:
                push_string(r_.le<std::uint64_t>());
                break; // BINBYTES8, BYTEARRAY8
            case 'J':
                push_int(r_.le<std::int32_t>());
                break; // BININT
            case 'K':
                push_int(r_.u8());
                break; // BININT1
            case 'M':
                push_int(r_.le<std::uint16_t>());
                break; // BININT2
            case 0x8a:
                push_long(r_.u8());
                break; // LONG1
            case 0x8b:
                push_long(r_.le<std::uint32_t>());
                break;  // LONG4
            case 'G': { // BINFLOAT: big-endian double; the value itself is never needed
                r_.raw(8);
                push(make(pk::floating));
                break;
            }
            case 0x88:
            case 0x89: { // NEWTRUE, NEWFALSE
                const auto b = make(pk::boolean);
                nodes_[b].i = op == 0x88;
                push(b);
                break;
            }
            case 'N':
                push(make(pk::none));
                break;
            case 'c': { // GLOBAL: "module\nname\n"
                std::string m = line();
                std::string n = line();
                push_global(m + " " + n);
                break;
            }
            case 0x93: { // STACK_GLOBAL
                need_stack(2);
                const auto n = pop();
                const auto m = pop();
                LMGC_CHECK(nodes_[m].kind == pk::string && nodes_[n].kind == pk::string,
                           errc::bad_input, "torch: pickle STACK_GLOBAL needs two strings");
                push_global(nodes_[m].s + " " + nodes_[n].s);
                break;
            }
            case 'R':
            case 0x81: { // REDUCE, NEWOBJ: callable/class, args tuple
                need_stack(2);
                const auto a = pop();
                const auto c = pop();
                const auto o = make(pk::object);
                nodes_[o].callable = c;
                nodes_[o].args = a;
                push(o);
                break;
            }
            case 0x92: { // NEWOBJ_EX: class, args, kwargs
                need_stack(3);
                pop();
                const auto a = pop();
                const auto c = pop();
                const auto o = make(pk::object);
                nodes_[o].callable = c;
                nodes_[o].args = a;
                push(o);
                break;
            }
            case 'b': { // BUILD
                need_stack(2);
                const auto st = pop();
                auto& obj = nodes_[stack_.back()];
                LMGC_CHECK(obj.kind == pk::object, errc::bad_input,
                           "torch: pickle BUILD on a non-object");
                obj.state = st;
                obj.has_state = true;
                break;
            }
            case 'Q': { // BINPERSID
                need_stack(1);
                const auto id = pop();
                const auto p = make(pk::persid);
                nodes_[p].args = id;
                push(p);
                break;
            }
            case '0':
                need_stack(1);
                pop();
                break; // POP
            case '1':
                pop_mark();
                break; // POP_MARK
            case '2':
                need_stack(1);
                push(stack_.back());
                break; // DUP
            default:
                LMGC_FAIL(errc::unsupported, "torch: pickle opcode 0x", hex(op), " at offset ",
                          r_.pos() - 1, " is not supported (not a torch.save pickle?)");
            }
        }
    }

    const pnode& node(std::uint32_t i) const { return nodes_[i]; }
    std::size_t size() const { return nodes_.size(); }

  private:
    static std::string hex(unsigned v) {
        const char* d = "0123456789abcdef";
        return {d[(v >> 4) & 15], d[v & 15]};
    }
    std::uint32_t make(pk kind) {
        LMGC_CHECK(nodes_.size() < max_nodes, errc::bad_input, "torch: pickle too large");
        nodes_.emplace_back();
        nodes_.back().kind = kind;
        return static_cast<std::uint32_t>(nodes_.size() - 1);
    }
    void push(std::uint32_t v) { stack_.push_back(v); }
    void need_stack(std::size_t n) const {
        const std::size_t floor = marks_.empty() ? 0 : marks_.back();
        LMGC_CHECK(stack_.size() >= floor + n, errc::bad_input,
                   "torch: pickle stack underflow at offset ", r_.pos() - 1);
    }
    std::uint32_t pop() {
        const auto v = stack_.back();
        stack_.pop_back();
        return v;
    }
    std::vector<std::uint32_t> pop_mark() {
        LMGC_CHECK(!marks_.empty(), errc::bad_input, "torch: pickle has no MARK at offset ",
                   r_.pos() - 1);
        const auto m = marks_.back();
        marks_.pop_back();
        std::vector<std::uint32_t> items(stack_.begin() + static_cast<std::ptrdiff_t>(m),
                                         stack_.end());
        stack_.resize(m);
        return items;
    }
    std::uint32_t collect(pk kind) {
        auto items = pop_mark();
        const auto n = make(kind);
        nodes_[n].items = std::move(items);
        return n;
    }
    void append_to(std::uint32_t target, const std::vector<std::uint32_t>& items) {
        auto& t = nodes_[target];
        LMGC_CHECK(t.kind == pk::list || t.kind == pk::object, errc::bad_input,
                   "torch: pickle APPEND to a non-list");
        auto& dst = t.kind == pk::list ? t.items : t.appends;
        dst.insert(dst.end(), items.begin(), items.end());
    }
    void set_items(std::uint32_t target, const std::vector<std::uint32_t>& kv) {
        auto& t = nodes_[target];
        // Objects too: an OrderedDict is REDUCE(collections.OrderedDict, ()) then SETITEMS.
        LMGC_CHECK(t.kind == pk::dict || t.kind == pk::object, errc::bad_input,
                   "torch: pickle SETITEM on a non-dict");
        t.items.insert(t.items.end(), kv.begin(), kv.end());
    }
    void memo_put(std::uint32_t key) {
        LMGC_CHECK(!stack_.empty(), errc::bad_input, "torch: pickle PUT with an empty stack");
        memo_[key] = stack_.back();
    }
    std::uint32_t memo_get(std::uint32_t key) const {
        const auto it = memo_.find(key);
        LMGC_CHECK(it != memo_.end(), errc::bad_input, "torch: pickle GET of unknown memo ", key);
        return it->second;
    }
    void push_string(std::uint64_t n) {
        LMGC_CHECK(n <= r_.remaining(), errc::bad_input, "torch: pickle string runs past the end");
        const auto s = r_.raw(static_cast<std::size_t>(n));
        const auto v = make(pk::string);
        nodes_[v].s.assign(s.begin(), s.end());
        push(v);
    }
    void push_int(std::int64_t x) {
        const auto v = make(pk::integer);
        nodes_[v].i = x;
        push(v);
    }
    void push_long(std::uint64_t n) { // little-endian two's complement of n bytes
        LMGC_CHECK(n <= r_.remaining(), errc::bad_input, "torch: pickle LONG runs past the end");
        const auto s = r_.raw(static_cast<std::size_t>(n));
        if (n > 8) {
            const auto v = make(pk::bigint);
            nodes_[v].s.assign(s.begin(), s.end());
            push(v);
            return;
        }
        std::uint64_t u = 0;
        for (std::size_t k = 0; k < n; ++k) u |= static_cast<std::uint64_t>(s[k]) << (8 * k);
        if (n > 0 && n < 8 && (s[n - 1] & 0x80)) u |= ~std::uint64_t{0} << (8 * n);
        push_int(static_cast<std::int64_t>(u));
    }
    void push_global(std::string name) {
        const auto v = make(pk::global);
        nodes_[v].s = std::move(name);
        push(v);
    }
    std::string line() {
        std::string out;
        for (;;) {
            const char ch = static_cast<char>(r_.u8());
            if (ch == '\n') return out;
            out.push_back(ch);
            LMGC_CHECK(out.size() <= 1024, errc::bad_input, "torch: pickle GLOBAL name too long");
        }
    }

    byte_reader r_;
    std::vector<pnode> nodes_;
    std::vector<std::uint32_t> stack_;
    std::vector<std::size_t> marks_;
    std::unordered_map<std::uint32_t, std::uint32_t> memo_;
};

// ---------------------------------------------------------------------------------------
// From the pickle to storages and names

struct storage_type_row {
    const char* name;
    dtype type;
    std::int64_t complex; // 2 for complex storages: two floats per element, else 0
};

constexpr storage_type_row storage_types[] = {
    {"FloatStorage", dtype::f32, 0},        {"DoubleStorage", dtype::f64, 0},
    {"HalfStorage", dtype::f16, 0},         {"BFloat16Storage", dtype::bf16, 0},
    {"ByteStorage", dtype::u8, 0},          {"CharStorage", dtype::i8, 0},
    {"ShortStorage", dtype::i16, 0},        {"IntStorage", dtype::i32, 0},
    {"LongStorage", dtype::i64, 0},         {"BoolStorage", dtype::boolean, 0},
    {"ComplexFloatStorage", dtype::f32, 2}, {"ComplexDoubleStorage", dtype::f64, 2},
    {"ComplexHalfStorage", dtype::f16, 2},  {"QInt8Storage", dtype::i8, 0},
    {"QUInt8Storage", dtype::u8, 0},        {"QInt32Storage", dtype::i32, 0},
    {"QUInt4x2Storage", dtype::u8, 0},      {"QUInt2x4Storage", dtype::u8, 0},
    {"UntypedStorage", dtype::u8, 0},
};

struct storage_ref {
    std::string key;
    std::string type_name;                // e.g. "FloatStorage"
    std::optional<storage_type_row> type; // unknown storage classes are kept as bytes
    std::int64_t numel = 0;
};

struct tensor_use {
    std::string path;
    std::int64_t offset = 0;
    std::vector<std::int64_t> size, stride;
    bool shape_known = false;
};

class torch_pickle {
  public:
    explicit torch_pickle(byte_span pkl) : m_(pkl) {
        root_ = m_.run();
        // Every persistent id is a storage, reachable or not.
        for (std::uint32_t i = 0; i < m_.size(); ++i)
            if (m_.node(i).kind == pk::persid) add_storage(m_.node(i).args);
        name_all(root_, "", 0);
    }

    std::map<std::string, storage_ref> storages;
    std::map<std::string, tensor_use> first_use; // storage key -> first tensor that uses it

  private:
    static constexpr int max_depth = 200;

    const pnode& n(std::uint32_t i) const { return m_.node(i); }
    bool is_global(std::uint32_t i, std::string_view name) const {
        return n(i).kind == pk::global && n(i).s == name;
    }

    // ('storage', <torch.FloatStorage>, key, location, numel[, view metadata]).
    const storage_ref& add_storage(std::uint32_t pid) {
        const auto& t = n(pid);
        LMGC_CHECK(t.kind == pk::tuple && t.items.size() >= 5 && n(t.items[0]).kind == pk::string &&
                       n(t.items[0]).s == "storage",
                   errc::bad_input, "torch: unknown persistent id in data.pkl (not a storage)");
        const auto& cls = n(t.items[1]);
        const auto& key = n(t.items[2]);
        const auto& numel = n(t.items[4]);
        LMGC_CHECK(cls.kind == pk::global && cls.s.rfind("torch ", 0) == 0, errc::bad_input,
                   "torch: storage type is not a torch class");
        LMGC_CHECK(key.kind == pk::string && !key.s.empty() && key.s.size() <= 256, errc::bad_input,
                   "torch: bad storage key");
        LMGC_CHECK(numel.kind == pk::integer && numel.i >= 0, errc::bad_input, "torch: storage '",
                   key.s, "' has a bad element count");
        LMGC_CHECK(t.items.size() == 5, errc::unsupported, "torch: storage '", key.s,
                   "' is a view of another storage (legacy format), which is not supported");
        storage_ref s;
        s.key = key.s;
        s.type_name = cls.s.substr(6);
        for (const auto& row : storage_types)
            if (s.type_name == row.name) s.type = row;
        s.numel = numel.i;
        const auto [it, fresh] = storages.emplace(s.key, s);
        LMGC_CHECK(fresh || (it->second.type_name == s.type_name && it->second.numel == s.numel),
                   errc::bad_input, "torch: storage '", s.key,
                   "' is used with different types or sizes");
        return it->second;
    }

    static std::string join(const std::string& path, const std::string& seg) {
        return path.empty() ? seg : path + "." + seg;
    }
    std::string key_text(std::uint32_t k) const {
        const auto& x = n(k);
        if (x.kind == pk::string) return x.s.substr(0, 256); // names stay printable in size
        if (x.kind == pk::integer) return std::to_string(x.i);
        if (x.kind == pk::boolean) return x.i ? "True" : "False";
        if (x.kind == pk::none) return "None";
        return "?";
    }
    bool int_tuple(std::uint32_t i, std::vector<std::int64_t>& out) const {
        const auto& t = n(i);
        if (t.kind != pk::tuple && t.kind != pk::list) return false;
        out.clear();
        for (const auto e : t.items) {
            if (n(e).kind != pk::integer) return false;
            out.push_back(n(e).i);
        }
        return true;
    }

    // _rebuild_tensor_v2(storage, storage_offset, size, stride, ...) arguments.
    void record_tensor(std::uint32_t args, const std::string& path) {
        const auto& a = n(args);
        if (a.kind != pk::tuple || a.items.empty() || n(a.items[0]).kind != pk::persid) return;
        const auto& s = add_storage(n(a.items[0]).args);
        if (first_use.count(s.key)) return;
        tensor_use u;
        u.path = path.empty() ? "tensor" : path;
        if (a.items.size() >= 4 && n(a.items[1]).kind == pk::integer &&
            int_tuple(a.items[2], u.size) && int_tuple(a.items[3], u.stride) &&
            u.size.size() == u.stride.size()) {
            u.offset = n(a.items[1]).i;
            u.shape_known = true;
        }
        first_use.emplace(s.key, std::move(u));
    }

    // Depth-first walk from the root giving each value a dotted path: dict keys and list
    // indices are path segments, object wrappers (Parameter, OrderedDict, type tags) are not.
    void name_all(std::uint32_t i, const std::string& path, int depth) {
        if (depth > max_depth || path.size() > 4096 || !visited_.insert(i).second) return;
        const auto& x = n(i);
        switch (x.kind) {
        case pk::dict:
            for (std::size_t k = 0; k + 1 < x.items.size(); k += 2)
                name_all(x.items[k + 1], join(path, key_text(x.items[k])), depth + 1);
            break;
        case pk::tuple:
        case pk::list:
            for (std::size_t k = 0; k < x.items.size(); ++k)
                name_all(x.items[k], join(path, std::to_string(k)), depth + 1);
            break;
        case pk::persid: { // a bare storage (torch.save of a storage)
            const auto& s = add_storage(x.args);
            if (!first_use.count(s.key)) {
                tensor_use u;
                u.path = path.empty() ? "storage" : path;
                first_use.emplace(s.key, std::move(u));
            }
            break;
        }
        case pk::object: {
            if (is_global(x.callable, "torch._utils _rebuild_tensor_v2") ||
                is_global(x.callable, "torch._utils _rebuild_tensor")) {
                record_tensor(x.args, path);
                break;
            }
            const auto& a = n(x.args);
            if (is_global(x.callable, "torch._utils _rebuild_from_type_v2") &&
                a.kind == pk::tuple && a.items.size() >= 3 &&
                is_global(a.items[0], "torch._utils _rebuild_tensor_v2")) {
                record_tensor(a.items[2], path);
                break;
            }
            if (a.kind == pk::tuple || a.kind == pk::list)
                for (const auto e : a.items) name_all(e, path, depth + 1);
            for (std::size_t k = 0; k + 1 < x.items.size(); k += 2)
                name_all(x.items[k + 1], join(path, key_text(x.items[k])), depth + 1);
            for (std::size_t k = 0; k < x.appends.size(); ++k)
                name_all(x.appends[k], join(path, std::to_string(k)), depth + 1);
            if (x.has_state) name_all(x.state, path, depth + 1);
            break;
        }
        default:
            break;
        }
    }

    pickle_machine m_;
    std::uint32_t root_ = 0;
    std::set<std::uint32_t> visited_;
};

bool is_contiguous(const tensor_use& u) {
    std::int64_t expect = 1;
    for (std::size_t d = u.size.size(); d-- > 0;) {
        if (u.size[d] != 1 && u.stride[d] != expect) return false;
        if (u.size[d] < 0 ||
            (u.size[d] != 0 && expect > std::numeric_limits<std::int64_t>::max() / u.size[d]))
            return false;
        expect *= u.size[d];
    }
    return true;
}

// The legacy (pre-1.6) format starts with the pickled magic number 0x1950a86a20f9469cfc6c.
bool is_legacy_torch(byte_span file) {
    static constexpr std::uint8_t legacy[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c,
                                              0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
    return file.size() >= sizeof legacy && std::memcmp(file.data(), legacy, sizeof legacy) == 0;
}

} // namespace

bool looks_like_legacy_torch(byte_span file) {
    return is_legacy_torch(file);
}

parsed_file parse_torch(byte_span file) {
    LMGC_CHECK(!is_legacy_torch(file), errc::unsupported,
               "torch: this is the legacy torch.save format (PyTorch < 1.6 or "
               "_use_new_zipfile_serialization=False), which lmgc does not read; load it and "
               "save it again with a current torch.save");
    LMGC_CHECK(file.size() >= 4 && load_le<std::uint32_t>(file.data()) == sig_local,
               errc::bad_input, "torch: not a torch.save file (no zip header)");
    const auto entries = read_zip(file);
    LMGC_CHECK(!entries.empty(), errc::bad_input, "torch: empty zip archive");

    // Like PyTorch's reader: the archive's folder is the first entry's leading path segment.
    const auto slash = entries[0].name.find('/');
    LMGC_CHECK(slash != std::string::npos, errc::bad_input,
               "torch: zip entries are not in an archive folder (not a torch.save file)");
    const std::string prefix = entries[0].name.substr(0, slash + 1);
    const zip_entry* pkl = nullptr;
    const zip_entry* byteorder = nullptr;
    std::map<std::string, const zip_entry*> data;
    for (const auto& e : entries) {
        if (e.name.rfind(prefix, 0) != 0) continue;
        const std::string rest = e.name.substr(prefix.size());
        if (rest == "data.pkl")
            pkl = &e;
        else if (rest == "byteorder")
            byteorder = &e;
        else if (rest.rfind("data/", 0) == 0)
            data.emplace(rest.substr(5), &e);
    }
    LMGC_CHECK(pkl != nullptr, errc::bad_input, "torch: no ", prefix,
               "data.pkl in the zip archive (not a torch.save file)");
    bool big_endian = false;
    if (byteorder) {
        const std::string_view bo(
            reinterpret_cast<const char*>(file.data() + byteorder->data_offset), byteorder->size);
        LMGC_CHECK(bo == "little" || bo == "big", errc::bad_input, "torch: bad byteorder record");
        big_endian = bo == "big";
    }

    const torch_pickle tp(file.subspan(pkl->data_offset, pkl->size));

    parsed_file pf;
    pf.format = source_format::torch;
    std::set<std::string> used_names;
    for (const auto& [key, s] : tp.storages) {
        const auto it = data.find(key);
        LMGC_CHECK(it != data.end(), errc::bad_input, "torch: storage '", key,
                   "' is missing from the zip archive");
        const zip_entry& e = *it->second;
        tensor_region t;
        t.offset = e.data_offset;
        t.nbytes = e.size;
        const auto use = tp.first_use.find(key);
        std::string name = use != tp.first_use.end() ? use->second.path : "storage." + key;
        // Several storages may get the same path (e.g. a tuple of tensors inside an unknown
        // object); names stay unique so that `lmgc info` can tell them apart.
        if (!used_names.insert(name).second) {
            name += "@" + key;
            used_names.insert(name);
        }
        t.name = std::move(name);
        if (s.type) {
            t.type = s.type->type;
            const std::uint64_t elem = dtype_size(t.type) * (s.type->complex ? 2 : 1);
            LMGC_CHECK(static_cast<std::uint64_t>(s.numel) <= e.size / elem &&
                           static_cast<std::uint64_t>(s.numel) * elem == e.size,
                       errc::bad_input, "torch: storage '", key, "' (", s.type_name, ") holds ",
                       e.size, " bytes but data.pkl says ", s.numel, " elements");
            t.shape = {s.numel};
            if (use != tp.first_use.end() && use->second.shape_known && use->second.offset == 0 &&
                is_contiguous(use->second)) {
                std::uint64_t elems = 1;
                bool fits = true;
                for (const auto d : use->second.size) {
                    fits = fits && d >= 0 &&
                           (d == 0 || elems <= e.size / static_cast<std::uint64_t>(d));
                    if (fits) elems *= static_cast<std::uint64_t>(d);
                }
                if (fits && elems == static_cast<std::uint64_t>(s.numel))
                    t.shape = use->second.size;
            }
            if (s.type->complex) t.shape.push_back(s.type->complex);
        } else {
            // A storage class this reader does not know (a newer dtype): its bytes, as bytes.
            t.type = dtype::u8;
            t.shape = {static_cast<std::int64_t>(e.size)};
        }
        t.big_endian = big_endian && dtype_size(t.type) > 1;
        if (t.nbytes > 0) pf.tensors.push_back(std::move(t));
    }
    std::sort(pf.tensors.begin(), pf.tensors.end(),
              [](const auto& a, const auto& b) { return a.offset < b.offset; });
    validate_regions(pf, file.size());
    return pf;
}

} // namespace lmgc::detail
