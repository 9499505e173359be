// A ZeroC Ice 3.7 C++ Printer server for bench/ice.sh: the course's two objects (ice_server.py) in
// C++11, so that sister's server is measured against ZeroC's own implementation, not only its Python one.
//
//   bench/ice/build.sh
//   bench/ice/target/server [tcp -h 127.0.0.1 -p 11000] [--quiet] [--Ice.ThreadPool.Server.Size=4 ...]
//
// The adapter `SimpleAdapter` serves `SimplePrinter1` (prints "Object1 says: <s>") and `SimplePrinter2`
// ("Object2 says: <s>"), like the course's server. The endpoint is the first argument that is not an
// option (default `tcp -h 127.0.0.1 -p 11000`); `--quiet` skips the printing, so that a benchmark
// measures the RPC rather than the terminal; every `--Ice.*` option goes to Ice::initialize (for
// example `--Ice.ThreadPool.Server.Size=4`, `--Ice.ThreadPool.Server.SizeMax=8`, `--Ice.Trace.Network=1`).
// The environment variable ICE_SERVER_THREADS=N is a shorthand for Ice.ThreadPool.Server.Size=N.
#include <Ice/Ice.h>
#include <Printer.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

namespace {

std::mutex output;

class PrinterI : public Demo::Printer {
public:
    PrinterI(std::string prefix, bool quiet) : prefix_(std::move(prefix)), quiet_(quiet) {}

    void printString(std::string s, const Ice::Current&) override {
        if (quiet_) {
            return;
        }
        std::lock_guard<std::mutex> lock(output);
        std::cout << prefix_ << ' ' << s << std::endl;  // endl flushes, as print(..., flush=True)
    }

private:
    std::string prefix_;
    bool quiet_;
};

}  // namespace

int main(int argc, char* argv[]) {
    try {
        auto properties = Ice::createProperties(argc, argv);  // takes the --Ice.* options out of argv
        if (const char* threads = std::getenv("ICE_SERVER_THREADS")) {
            if (properties->getProperty("Ice.ThreadPool.Server.Size").empty()) {
                properties->setProperty("Ice.ThreadPool.Server.Size", threads);
            }
        }
        bool quiet = false;
        std::string endpoint = "tcp -h 127.0.0.1 -p 11000";
        for (int i = 1; i < argc; ++i) {
            if (std::strcmp(argv[i], "--quiet") == 0) {
                quiet = true;
            } else if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
                std::cout << "usage: " << argv[0] << " [ENDPOINT] [--quiet] [--Ice.Option=value ...]\n";
                return 0;
            } else if (argv[i][0] == '-') {
                std::cerr << argv[0] << ": unknown option " << argv[i] << "\n";
                return 2;
            } else {
                endpoint = argv[i];
            }
        }
        Ice::InitializationData init;
        init.properties = properties;
        Ice::CommunicatorHolder ich(init);
        auto adapter = ich->createObjectAdapterWithEndpoints("SimpleAdapter", endpoint);
        adapter->add(std::make_shared<PrinterI>("Object1 says:", quiet), Ice::stringToIdentity("SimplePrinter1"));
        adapter->add(std::make_shared<PrinterI>("Object2 says:", quiet), Ice::stringToIdentity("SimplePrinter2"));
        adapter->activate();
        std::cerr << "ZeroC Ice C++ Printer server on " << endpoint << " (server threads "
                  << properties->getPropertyAsIntWithDefault("Ice.ThreadPool.Server.Size", 1) << ")"
                  << std::endl;
        ich->waitForShutdown();
    } catch (const std::exception& e) {
        std::cerr << e.what() << std::endl;
        return 1;
    }
    return 0;
}
