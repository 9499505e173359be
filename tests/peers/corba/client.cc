// A CORBA client with omniORB 4.2 for the course's IDL (the course has none): resolve "Hello" in the
// Naming Service (resolve_initial_references("NameService"), narrow, resolve_str), narrow to
// HelloApp::Hello (an _is_a request), call sayHello() and print the answer alone on a line.
//
//   hello_client -ORBInitRef NameService=corbaloc::127.0.0.1:2809/NameService [--name Hello] [-n N]
//   hello_client IOR:...   or   hello_client corbaloc::127.0.0.1:2809/Hello   (no naming service)
//
// Exit status 1 with `NotFound` for a name not bound, `SystemException NAME minor N` otherwise.
#include <cstdlib>
#include <cstring>
#include <iostream>
#include "hello.hh"

int main(int argc, char** argv) {
  try {
    CORBA::ORB_var orb = CORBA::ORB_init(argc, argv);
    const char* name = "Hello";
    const char* ref = 0;
    int calls = 1;
    for (int i = 1; i < argc; i++) {
      if (std::strcmp(argv[i], "--name") == 0 && i + 1 < argc) name = argv[++i];
      else if (std::strcmp(argv[i], "-n") == 0 && i + 1 < argc) calls = std::atoi(argv[++i]);
      else ref = argv[i];
    }
    CORBA::Object_var obj;
    if (ref) {
      obj = orb->string_to_object(ref);
    } else {
      CORBA::Object_var ns = orb->resolve_initial_references("NameService");
      CosNaming::NamingContextExt_var ctx = CosNaming::NamingContextExt::_narrow(ns);
      if (CORBA::is_nil(ctx)) {
        std::cerr << "NameService is not a NamingContextExt" << std::endl;
        return 1;
      }
      obj = ctx->resolve_str(name);
    }
    HelloApp::Hello_var hello = HelloApp::Hello::_narrow(obj);
    if (CORBA::is_nil(hello)) {
      std::cerr << "the object is not a HelloApp::Hello" << std::endl;
      return 1;
    }
    for (int i = 0; i < calls; i++) {
      CORBA::String_var answer = hello->sayHello();
      std::cout << answer << std::endl;
    }
    orb->destroy();
  } catch (CosNaming::NamingContext::NotFound&) {
    std::cerr << "NotFound" << std::endl;
    return 1;
  } catch (CORBA::SystemException& e) {
    std::cerr << "SystemException " << e._name() << " minor " << e.minor() << std::endl;
    return 1;
  } catch (CORBA::Exception& e) {
    std::cerr << "CORBA exception " << e._name() << std::endl;
    return 1;
  }
  return 0;
}
