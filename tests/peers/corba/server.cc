// The course's CORBA server (CORBA/server.py, omniORBpy) in C++ with omniORB 4.2, because Debian
// packages omniORB for C++ but not omniORBpy. It does what server.py does: RootPOA, activate the
// Hello servant, resolve_initial_references("NameService"), narrow to NamingContextExt, rebind
// [("Hello", "")], run the ORB. Then it prints its IOR and "Hello server ready" (flushed).
//
//   hello_server -ORBInitRef NameService=corbaloc::127.0.0.1:2809/NameService \
//                -ORBendPoint giop:tcp:127.0.0.1:2810 [--name Hello] [--quiet]
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <pthread.h>
#include "hello.hh"

static bool quiet = false;  // --quiet: no line per call (bench/corba.sh measures calls, not the terminal)

class HelloImpl : public POA_HelloApp::Hello {
public:
  char* sayHello() override {
    if (!quiet) std::cout << "sayHello called" << std::endl;
    return CORBA::string_dup("Hello from CORBA Server!");
  }
};

static CORBA::ORB_var orb;
static sigset_t stop_signals;
static std::atomic<bool> running(false);

// SIGINT and SIGTERM are blocked in every thread (the mask is set before ORB_init, so the ORB's threads
// inherit it) and taken here with sigwait(): orb->shutdown() takes the ORB's locks, which a signal
// handler must not do. shutdown(false) only asks the ORB to stop; run() returns in the main thread and
// the process exits 0. A signal before orb->run() (still registering) ends the process at once.
static void* wait_for_stop(void*) {
  int sig = 0;
  sigwait(&stop_signals, &sig);
  if (!running) std::_Exit(128 + sig);
  orb->shutdown(false);
  return 0;
}

int main(int argc, char** argv) {
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, 0);
  pthread_t stopper;
  pthread_create(&stopper, 0, wait_for_stop, 0);
  pthread_detach(stopper);
  try {
    orb = CORBA::ORB_init(argc, argv);
    const char* name = "Hello";
    for (int i = 1; i < argc; i++) {
      if (std::strcmp(argv[i], "--name") == 0 && i + 1 < argc) name = argv[i + 1];
      if (std::strcmp(argv[i], "--quiet") == 0) quiet = true;
    }
    CORBA::Object_var obj = orb->resolve_initial_references("RootPOA");
    PortableServer::POA_var poa = PortableServer::POA::_narrow(obj);
    HelloImpl* servant = new HelloImpl();
    PortableServer::ObjectId_var id = poa->activate_object(servant);
    CORBA::Object_var ref = poa->id_to_reference(id);
    servant->_remove_ref();

    CORBA::Object_var ns = orb->resolve_initial_references("NameService");
    CosNaming::NamingContextExt_var ctx = CosNaming::NamingContextExt::_narrow(ns);
    if (CORBA::is_nil(ctx)) {
      std::cerr << "NameService is not a NamingContextExt" << std::endl;
      return 1;
    }
    CosNaming::Name n;
    n.length(1);
    n[0].id = CORBA::string_dup(name);
    n[0].kind = CORBA::string_dup("");
    ctx->rebind(n, ref);

    PortableServer::POAManager_var mgr = poa->the_POAManager();
    mgr->activate();
    CORBA::String_var ior = orb->object_to_string(ref);
    std::cout << ior << std::endl << "Hello server ready" << std::endl;
    running = true;
    orb->run();
    orb->destroy();
  } catch (CORBA::SystemException& e) {
    std::cerr << "CORBA system exception " << e._name() << " minor " << e.minor() << std::endl;
    return 1;
  } catch (CORBA::Exception& e) {
    std::cerr << "CORBA exception " << e._name() << std::endl;
    return 1;
  }
  return 0;
}
