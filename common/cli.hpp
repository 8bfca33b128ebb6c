#pragma once
// The command line of the control tools (dnsdctl, geoipctl): their options,
// the words after them (the command, addresses) as positional arguments that
// --help does not list, and --version.

#include <boost/program_options.hpp>
#include <iostream>
#include <string>
#include <vector>

#include "common/service.hpp"

namespace signpost::common {

// `desc` must hold "version". Returns -1 to go on, else the exit status
// (0 after --version, 2 on a malformed command line, said on stderr).
inline int parse_tool_args(const char* program, int argc, char** argv,
                           const boost::program_options::options_description& desc,
                           std::vector<std::string>& args,
                           boost::program_options::variables_map& vm) {
    namespace po = boost::program_options;
    po::options_description hidden;
    hidden.add_options()("args", po::value(&args), "");
    po::options_description all;
    all.add(desc).add(hidden);
    po::positional_options_description pos;
    pos.add("args", -1);
    try {
        po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        std::cerr << program << ": " << e.what() << "\n";
        return 2;
    }
    if (vm.count("version")) {
        std::cout << version_text(program) << "\n";
        return 0;
    }
    return -1;
}

}  // namespace signpost::common
