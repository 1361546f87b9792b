// A small command-line parser for the lmgc subcommands: positionals, options with values,
// flags, generated --help. Ours so the CLI builds where only LibTorch is installed.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace lmgc::cli {

// Thrown for bad command lines; main prints it with a hint and exits 2.
struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};
// Thrown after --help was printed; main exits 0.
struct help_shown {};

class arg_parser {
  public:
    arg_parser(std::string command, std::string summary);

    // A required positional (or optional when required is false).
    arg_parser& positional(std::string name, std::string help, std::string* out,
                           bool required = true);
    // Zero or more remaining positionals.
    arg_parser& positionals(std::string name, std::string help, std::vector<std::string>* out);
    // names: "-o,--output" or "--codec". The value is parsed when seen.
    arg_parser& option(std::string names, std::string metavar, std::string help, std::string* out);
    arg_parser& option(std::string names, std::string metavar, std::string help, std::int64_t* out);
    arg_parser& option(std::string names, std::string metavar, std::string help,
                       std::uint64_t* out);
    arg_parser& option(std::string names, std::string metavar, std::string help, int* out);
    arg_parser& option(std::string names, std::string metavar, std::string help, double* out);
    // Repeatable option; every value is appended.
    arg_parser& option_list(std::string names, std::string metavar, std::string help,
                            std::vector<std::string>* out);
    arg_parser& flag(std::string names, std::string help, bool* out);
    // "-1" .. "-9" where an option may stand set the (already added) option long_name to
    // that digit, as zstd's levels do; a value after an option (--threads -1) stays a value.
    arg_parser& digit_option(std::string long_name);
    // Free text appended to --help (examples, notes).
    arg_parser& epilog(std::string text);

    // Parses args (without the program and subcommand names). Throws usage_error or
    // help_shown (after printing help to stdout).
    void parse(const std::vector<std::string>& args);
    // Whether an option was given on the command line.
    bool given(const std::string& long_name) const;
    std::string help() const;

  private:
    struct opt {
        std::vector<std::string> names;
        std::string metavar, help;
        std::function<void(const std::string&)> set; // null for flags
        bool* flag = nullptr;
        bool seen = false;
    };
    struct pos {
        std::string name, help;
        std::string* out = nullptr;
        std::vector<std::string>* list = nullptr;
        bool required = true;
    };
    opt* find(const std::string& name);
    std::string command_, summary_, epilog_;
    std::vector<opt> opts_;
    std::vector<pos> pos_;
    std::optional<std::string> digit_opt_;
};

} // namespace lmgc::cli
