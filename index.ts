export * from "./generator/abi/abis.js";
