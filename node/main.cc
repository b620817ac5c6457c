// healthchain: the Health Chain node daemon (validator or observer).
//
//   healthchain --config node.toml
//
// Signals: SIGINT/SIGTERM stop the node; SIGUSR1 writes an online backup (node/backup.h) while it
// keeps running; SIGHUP reloads the client API's TLS certificate and key ([api.tls]) for new
// connections, keeping the previous ones when the files are bad.
//
// Exit codes: 0 after a clean shutdown (SIGINT/SIGTERM); 1 when the node failed while running
// (a port it cannot bind, a disk that refuses writes); 2 when it refused to start: bad
// command line, bad configuration, genesis or keys, or a corrupt database (the message names the
// file and the key or what is wrong).
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <ctime>

#include "node/config.h"
#include "node/node.h"

namespace {

void SetUpLogging(const hc::node::NodeConfig& config) {
  auto logger = spdlog::stderr_color_mt(config.name.empty() ? "healthchain" : config.name);
  // Every line carries the node's name; consensus lines add view and seq themselves.
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ [%n] %v");
  logger->set_level(spdlog::level::from_str(config.log_level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"healthchain: the Health Chain node daemon"};
  std::string config_path;
  app.add_option("--config", config_path, "the node's TOML configuration file")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 reports parse errors by exception; this is the edge where it arises.
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  // Signals are taken synchronously by this thread (sigtimedwait below); every thread the node
  // starts inherits the blocked mask, so none of them is interrupted.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  auto config = hc::node::LoadNodeConfig(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "healthchain: refusing to start: %s\n", config.status().message().c_str());
    return 2;
  }
  SetUpLogging(config.value());
  auto node = hc::node::Node::Create(config.value());
  if (!node.ok()) {
    spdlog::critical("refusing to start: {}", node.status().ToString());
    return 2;
  }
  if (hc::Status s = node.value()->Start(); !s.ok()) {
    spdlog::critical("failed to start: {}", s.ToString());
    node.value()->Stop();
    return 1;
  }
  int exit_code = 0;
  while (true) {
    timespec timeout{0, 200 * 1000 * 1000};
    const int sig = sigtimedwait(&signals, nullptr, &timeout);
    if (sig == SIGINT || sig == SIGTERM) {
      spdlog::info("received {}; shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
      break;
    }
    if (sig == SIGUSR1) {
      // Runs here, between signals: a SIGTERM that arrives meanwhile waits for the backup (the
      // outcome is logged and counted by Backup itself).
      static_cast<void>(node.value()->Backup());
    }
    if (sig == SIGHUP) {
      // The outcome (or that there is no [api.tls] to reload) is logged and counted by
      // ReloadApiTls itself; a failure keeps the previous certificate.
      static_cast<void>(node.value()->ReloadApiTls());
    }
    if (node.value()->failed()) {
      exit_code = 1;
      break;
    }
  }
  node.value()->Stop();
  spdlog::shutdown();
  return exit_code;
}
