from nylas_emulator.cli import main

main()
