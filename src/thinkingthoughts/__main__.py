from thinkingthoughts.cli import main

main()
