@codex @allure.label.epic:Codex_storage @allure.label.story:Round_trips
Feature: Files make the round trip through a Codex node unchanged
  As a Codex user
  I want every file I upload to come back byte for byte
  So that I can trust a node with my data

  Codex cuts every upload into blocks of 64 KiB, so the sizes below sit on either side of a block
  boundary as well as spanning many blocks.

  Background:
    Given a Codex node "A" is running

  @critical
  Scenario Outline: A <size> file comes back identical
    When Alice uploads a <size> file to node A
    Then she downloads it from node A with an identical SHA-256
    And she downloads it from node A through the network stream with an identical SHA-256
    And the manifest says the dataset is <bytes> bytes in <blocks> of 65536 bytes

    Examples: Sizes around the block boundary
      | size            | bytes    | blocks     |
      | 1 byte          | 1        | 1 block    |
      | 64 KiB          | 65536    | 1 block    |
      | 64 KiB + 1 byte | 65537    | 2 blocks   |
      | 10 MiB          | 10485760 | 160 blocks |

  Scenario: A download cancelled mid-stream leaves the node serving others
    Given Alice has uploaded a 20 MiB file to node A
    When Alice starts downloading it from node A and cancels after 1 MiB
    Then Bob downloads it from node A with an identical SHA-256

  Scenario: Several people download the same file at the same time
    Given Alice has uploaded a 3 MiB file to node A
    When 6 people download it from node A at the same time
    Then every one of them gets an identical SHA-256

  Scenario: Several people upload the same file at the same time
    When 5 people upload the same 2 MiB file to node A at the same time
    Then all of them get the same CID
    And Alice downloads it from node A with an identical SHA-256
