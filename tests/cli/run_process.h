// RunProcess: runs a program as a child process for the hcctl tests, feeding it stdin and capturing
// its stdout, stderr and exit code.
//
// In hc::test rather than hc::testing so it never shadows GoogleTest's ::testing inside namespace
// hc. Header-only so each CLI test file can include it without a helper library. Test-only code: a
// failure to spawn is reported through exit_code (127, like a shell) and a message in `err`, so a
// test fails with a readable assertion instead of a crash.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

extern char** environ;

namespace hc::test {

struct ProcessResult {
  // The exit status of a normal exit; 128 + signal number when killed by a signal; 127 when the
  // program could not be started.
  int exit_code = -1;
  std::string out;
  std::string err;
};

namespace internal {

inline void ClosePipe(int fds[2]) {
  for (int i = 0; i < 2; ++i) {
    if (fds[i] >= 0) ::close(fds[i]);
    fds[i] = -1;
  }
}

}  // namespace internal

// Runs argv[0] (looked up in PATH when it has no slash) with the given arguments, writes
// `stdin_data` to its stdin and closes it, and waits for it to exit. stdout and stderr are drained
// concurrently with poll(), so a child that writes a lot to either cannot deadlock against us.
inline ProcessResult RunProcess(const std::vector<std::string>& argv,
                                const std::string& stdin_data = "") {
  ProcessResult result;
  if (argv.empty()) {
    result.exit_code = 127;
    result.err = "RunProcess: empty argv";
    return result;
  }
  int in_pipe[2] = {-1, -1};
  int out_pipe[2] = {-1, -1};
  int err_pipe[2] = {-1, -1};
  // O_CLOEXEC keeps the parent's ends out of the child; the dup2'ed copies drop the flag.
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0 ||
      ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    result.exit_code = 127;
    result.err = std::string("RunProcess: pipe2: ") + std::strerror(errno);
    internal::ClosePipe(in_pipe);
    internal::ClosePipe(out_pipe);
    internal::ClosePipe(err_pipe);
    return result;
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);

  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  pid_t pid = -1;
  const int spawn_rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (spawn_rc != 0) {
    ::close(in_pipe[1]);
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    result.exit_code = 127;
    result.err = "RunProcess: posix_spawnp " + argv[0] + ": " + std::strerror(spawn_rc);
    return result;
  }

  // A child that exits without reading its stdin must not kill us with SIGPIPE.
  struct sigaction ignore_pipe = {};
  struct sigaction old_pipe = {};
  ignore_pipe.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore_pipe, &old_pipe);

  int stdin_fd = in_pipe[1];
  size_t stdin_written = 0;
  if (stdin_data.empty()) {
    ::close(stdin_fd);
    stdin_fd = -1;
  } else {
    ::fcntl(stdin_fd, F_SETFL, ::fcntl(stdin_fd, F_GETFL) | O_NONBLOCK);
  }
  int out_fd = out_pipe[0];
  int err_fd = err_pipe[0];

  char buf[4096];
  while (out_fd >= 0 || err_fd >= 0 || stdin_fd >= 0) {
    pollfd fds[3];
    int n = 0;
    int out_i = -1, err_i = -1, in_i = -1;
    if (out_fd >= 0) {
      out_i = n;
      fds[n++] = {out_fd, POLLIN, 0};
    }
    if (err_fd >= 0) {
      err_i = n;
      fds[n++] = {err_fd, POLLIN, 0};
    }
    if (stdin_fd >= 0) {
      in_i = n;
      fds[n++] = {stdin_fd, POLLOUT, 0};
    }
    if (::poll(fds, n, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    auto drain = [&](int index, int& fd, std::string& sink) {
      if (index < 0 || fds[index].revents == 0) return;
      const ssize_t got = ::read(fd, buf, sizeof(buf));
      if (got > 0) {
        sink.append(buf, static_cast<size_t>(got));
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        ::close(fd);
        fd = -1;
      }
    };
    drain(out_i, out_fd, result.out);
    drain(err_i, err_fd, result.err);
    if (in_i >= 0 && fds[in_i].revents != 0) {
      const ssize_t put =
          ::write(stdin_fd, stdin_data.data() + stdin_written, stdin_data.size() - stdin_written);
      if (put > 0) stdin_written += static_cast<size_t>(put);
      if ((put < 0 && errno != EINTR && errno != EAGAIN) || stdin_written == stdin_data.size()) {
        ::close(stdin_fd);
        stdin_fd = -1;
      }
    }
  }
  if (out_fd >= 0) ::close(out_fd);
  if (err_fd >= 0) ::close(err_fd);
  if (stdin_fd >= 0) ::close(stdin_fd);
  ::sigaction(SIGPIPE, &old_pipe, nullptr);

  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) {
      result.exit_code = 127;
      result.err += std::string("RunProcess: waitpid: ") + std::strerror(errno);
      return result;
    }
  }
  if (WIFEXITED(wstatus)) {
    result.exit_code = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    result.exit_code = 128 + WTERMSIG(wstatus);
  }
  return result;
}

}  // namespace hc::test
