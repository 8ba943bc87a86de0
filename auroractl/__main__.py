from auroractl.main import main

main()
