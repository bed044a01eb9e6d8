//===- attn-translate.cpp - translations (--mlir-to-llvmir) ---------------===//

#include "attn/InitAll.h"

#include "mlir/Tools/mlir-translate/MlirTranslateMain.h"

int main(int argc, char **argv) {
  mlir::attn::registerAllTranslations();
  return mlir::failed(
      mlir::mlirTranslateMain(argc, argv, "attn translation driver\n"));
}
