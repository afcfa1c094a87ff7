// Placeholder so the library exists before its first real file; delete when one lands.
namespace gpas {}
