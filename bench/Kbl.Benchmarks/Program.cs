using BenchmarkDotNet.Running;
using Kbl.Benchmarks;

// dotnet run -c Release --project bench/Kbl.Benchmarks -- --filter '*' --job short
BenchmarkSwitcher.FromAssembly(typeof(RecordStoreBenchmarks).Assembly).Run(args);
