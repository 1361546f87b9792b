// Command-line parsing for tools/lmgc.cpp.
#include "cli-args.hpp"

#include <charconv>
#include <cstdio>
#include <sstream>

namespace lmgc::cli {
namespace {

std::vector<std::string> split_names(const std::string& names) {
    std::vector<std::string> out;
    std::stringstream ss(names);
    std::string n;
    while (std::getline(ss, n, ',')) out.push_back(n);
    return out;
}

template <typename T> T parse_number(const std::string& name, const std::string& s) {
    T v{};
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size() || s.empty())
        throw usage_error(name + " expects a number, got '" + s + "'");
    return v;
}

// Accepts 512, 64k, 16M, 1G (powers of 1024) for byte counts.
std::uint64_t parse_size(const std::string& name, const std::string& s) {
    if (s.empty()) throw usage_error(name + " expects a size");
    std::uint64_t mult = 1;
    std::string digits = s;
    const char last = s.back();
    if (last == 'k' || last == 'K') mult = 1ull << 10;
    if (last == 'm' || last == 'M') mult = 1ull << 20;
    if (last == 'g' || last == 'G') mult = 1ull << 30;
    if (mult != 1) digits.pop_back();
    const auto v = parse_number<std::uint64_t>(name, digits);
    if (v > UINT64_MAX / mult) throw usage_error(name + " is too large");
    return v * mult;
}

} // namespace

arg_parser::arg_parser(std::string command, std::string summary)
    : command_(std::move(command)), summary_(std::move(summary)) {}

arg_parser& arg_parser::positional(std::string name, std::string help, std::string* out,
                                   bool required) {
    pos_.push_back({std::move(name), std::move(help), out, nullptr, required});
    return *this;
}
arg_parser& arg_parser::positionals(std::string name, std::string help,
                                    std::vector<std::string>* out) {
    pos_.push_back({std::move(name), std::move(help), nullptr, out, false});
    return *this;
}
arg_parser& arg_parser::option(std::string names, std::string metavar, std::string help,
                               std::string* out) {
    opts_.push_back({split_names(names), std::move(metavar), std::move(help),
                     [out](const std::string& v) { *out = v; }});
    return *this;
}
arg_parser& arg_parser::option(std::string names, std::string metavar, std::string help,
                               std::int64_t* out) {
    auto n = split_names(names);
    const std::string name = n.back();
    opts_.push_back(
        {std::move(n), std::move(metavar), std::move(help),
         [out, name](const std::string& v) { *out = parse_number<std::int64_t>(name, v); }});
    return *this;
}
arg_parser& arg_parser::option(std::string names, std::string metavar, std::string help,
                               std::uint64_t* out) {
    auto n = split_names(names);
    const std::string name = n.back();
    opts_.push_back({std::move(n), std::move(metavar), std::move(help),
                     [out, name](const std::string& v) { *out = parse_size(name, v); }});
    return *this;
}
arg_parser& arg_parser::option(std::string names, std::string metavar, std::string help, int* out) {
    auto n = split_names(names);
    const std::string name = n.back();
    opts_.push_back({std::move(n), std::move(metavar), std::move(help),
                     [out, name](const std::string& v) { *out = parse_number<int>(name, v); }});
    return *this;
}
arg_parser& arg_parser::option(std::string names, std::string metavar, std::string help,
                               double* out) {
    auto n = split_names(names);
    const std::string name = n.back();
    opts_.push_back({std::move(n), std::move(metavar), std::move(help),
                     [out, name](const std::string& v) { *out = parse_number<double>(name, v); }});
    return *this;
}
arg_parser& arg_parser::option_list(std::string names, std::string metavar, std::string help,
                                    std::vector<std::string>* out) {
    opts_.push_back({split_names(names), std::move(metavar), std::move(help),
                     [out](const std::string& v) { out->push_back(v); }});
    return *this;
}
arg_parser& arg_parser::flag(std::string names, std::string help, bool* out) {
    opt o{split_names(names), "", std::move(help), nullptr};
    o.flag = out;
    opts_.push_back(std::move(o));
    return *this;
}
arg_parser& arg_parser::epilog(std::string text) {
    epilog_ = std::move(text);
    return *this;
}

arg_parser::opt* arg_parser::find(const std::string& name) {
    for (auto& o : opts_)
        for (const auto& n : o.names)
            if (n == name) return &o;
    return nullptr;
}

bool arg_parser::given(const std::string& long_name) const {
    for (const auto& o : opts_)
        for (const auto& n : o.names)
            if (n == long_name) return o.seen;
    return false;
}

arg_parser& arg_parser::digit_option(std::string long_name) {
    digit_opt_ = std::move(long_name);
    return *this;
}

void arg_parser::parse(const std::vector<std::string>& args) {
    std::size_t next_pos = 0;
    bool only_positionals = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string a = args[i];
        if (!only_positionals && a == "--") {
            only_positionals = true;
            continue;
        }
        if (!only_positionals && (a == "-h" || a == "--help")) {
            std::fputs(help().c_str(), stdout);
            throw help_shown{};
        }
        if (!only_positionals && a.size() > 1 && a[0] == '-') {
            std::string value;
            bool has_value = false;
            if (const auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
                value = a.substr(eq + 1);
                a = a.substr(0, eq);
                has_value = true;
            }
            // zstd-style "-N" (a digit): the option registered with digit_option().
            if (digit_opt_ && !has_value && a.size() == 2 && a[1] >= '1' && a[1] <= '9') {
                a = *digit_opt_;
                value = args[i].substr(1);
                has_value = true;
            }
            opt* o = find(a);
            if (!o) throw usage_error("unknown option '" + a + "'");
            o->seen = true;
            if (o->flag) {
                if (has_value) throw usage_error(a + " takes no value");
                *o->flag = true;
                continue;
            }
            if (!has_value) {
                if (i + 1 >= args.size())
                    throw usage_error(a + " needs a value (" + o->metavar + ")");
                value = args[++i];
            }
            o->set(value);
            continue;
        }
        if (next_pos >= pos_.size()) throw usage_error("unexpected argument '" + a + "'");
        auto& p = pos_[next_pos];
        if (p.list) {
            p.list->push_back(a);
        } else {
            *p.out = a;
            ++next_pos;
        }
    }
    for (std::size_t k = next_pos; k < pos_.size(); ++k)
        if (pos_[k].required && !pos_[k].list)
            throw usage_error("missing argument " + pos_[k].name);
}

std::string arg_parser::help() const {
    std::ostringstream os;
    os << "Usage: lmgc " << command_;
    for (const auto& p : pos_) {
        if (p.list)
            os << " [" << p.name << "...]";
        else if (p.required)
            os << " " << p.name;
        else
            os << " [" << p.name << "]";
    }
    if (!opts_.empty()) os << " [options]";
    os << "\n\n" << summary_ << "\n";
    if (!pos_.empty()) {
        os << "\nArguments:\n";
        for (const auto& p : pos_) {
            std::string left = "  " + p.name;
            if (left.size() < 26)
                left.resize(26, ' ');
            else
                left += "  ";
            os << left << p.help << "\n";
        }
    }
    os << "\nOptions:\n";
    for (const auto& o : opts_) {
        std::string left = "  ";
        for (std::size_t i = 0; i < o.names.size(); ++i) left += (i ? ", " : "") + o.names[i];
        if (!o.metavar.empty()) left += " " + o.metavar;
        if (left.size() < 26)
            left.resize(26, ' ');
        else
            left += "\n" + std::string(26, ' ');
        os << left << o.help << "\n";
    }
    os << "  -h, --help              show this help\n";
    if (!epilog_.empty()) os << "\n" << epilog_ << "\n";
    return os.str();
}

} // namespace lmgc::cli
